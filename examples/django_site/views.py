"""Views: a login that mints tokens, and views that read the claims with ``get_jwt(request)``."""

import json
import secrets

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from jwt_wsgi import get_jwt, get_jwt_identity

USERS = {"alice": "wonderland", "bob": "builder"}


@csrf_exempt  # a token API: no cookie session, so no CSRF token to check
@require_POST
def login(request: HttpRequest) -> JsonResponse:
    from .wsgi import jwt  # the manager lives next to the middleware

    try:
        body = json.loads(request.body or b"{}")
        user, password = str(body["username"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"msg": "Send JSON with username and password"}, status=400)
    if not secrets.compare_digest(USERS.get(user, "\0"), password):
        return JsonResponse({"msg": "Bad username or password"}, status=401)
    role = "admin" if user == "alice" else "user"
    return JsonResponse({
        "access_token": jwt.create_access_token(user, fresh=True, additional_claims={"role": role}),
        "refresh_token": jwt.create_refresh_token(user),
    })


@require_GET
def me(request: HttpRequest) -> JsonResponse:
    claims = get_jwt(request)
    return JsonResponse({"user": get_jwt_identity(request), "role": claims.get("role"),
                         "remote_user": request.META.get("REMOTE_USER")})


def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"admin": get_jwt_identity(request), "fresh": get_jwt(request)["fresh"]})


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
