"""A Django project protected by jwt_wsgi (see wsgi.py)."""
