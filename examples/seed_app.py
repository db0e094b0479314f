"""The seed: flask-jwt-extended's "Changing Default Behaviors" example, ported to jwt_wsgi.

Two bugs of the original are fixed here:

* its login check read ``username != "test" and password != "test"``, which let anyone in
  who got *either* half right; credentials must both match, so the check uses ``or``
  (and compares in constant time);
* it put ``@jwt_required`` above ``@app.route``, which registered the view unprotected; with
  jwt_wsgi the protection lives in one routes table that the middleware applies to every
  request, so no view can forget it.

Run it: ``JWT_SECRET_KEY=... flask --app examples/seed_app.py run``.
"""

from __future__ import annotations

import hmac
import os
import secrets

from flask import Flask, jsonify, request

from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt_identity

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48)
jwt = JWTManager.from_mapping(app.config)

USERS = {"test": "test"}  # the seed's single account; use a real user store


# The seed's custom answer for an expired token: same body, same 401.
@jwt.expired_token_loader
def my_expired_token_callback():
    return {"status": 401, "sub_status": 42, "msg": "The token has expired"}, 401


@app.route("/login", methods=["POST"])
def login():
    body = request.get_json(silent=True) or {}
    username = body.get("username")
    password = body.get("password")
    expected = USERS.get(username) if isinstance(username, str) else None
    if expected is None or not isinstance(password, str) or not hmac.compare_digest(
            expected.encode(), password.encode()):
        return jsonify({"msg": "Bad username or password"}), 401
    return jsonify(access_token=jwt.create_access_token(identity=username)), 200


@app.route("/protected", methods=["GET"])
def protected():
    return jsonify({"hello": f"from {get_jwt_identity(request)}"}), 200


app.wsgi_app = JWTMiddleware(app.wsgi_app, jwt, routes={
    "POST /login": "public",
    "/protected": "required",
}, default="required")


if __name__ == "__main__":
    app.run()
