from django.urls import path

from . import views

urlpatterns = [
    path("login", views.login),
    path("api/me", views.me),
    path("admin/stats", views.admin),
    path("health", views.health),
]
