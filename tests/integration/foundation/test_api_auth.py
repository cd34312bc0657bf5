"""Authentication: every endpoint but health, metrics and the token issue needs a valid token."""

from __future__ import annotations

import re

from tests.conftest import Api

# Endpoints that answer without a bearer token, and why.
PUBLIC = {
    ("get", "/healthz"),  # liveness probe
    ("get", "/readyz"),  # readiness probe
    ("get", "/metrics"),  # Prometheus scrape
    ("post", "/api/v1/auth/token"),  # the OAuth2 password flow itself
}
# Platform push callbacks authenticate with the carrier platform's own signature/key instead.
SIGNED_CALLBACK = re.compile(r"^/api/v1/ingest/(ctwing|onenet)")
# The map page shell and its static assets carry no data; the data endpoints need a token.
STATIC = re.compile(r"^/(static/.*|)$")


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_endpoint_requires_a_valid_token(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()  # type: ignore[attr-defined]
    checked = 0
    for path, methods in spec["paths"].items():
        for method in methods:
            if (method, path) in PUBLIC or SIGNED_CALLBACK.match(path) or STATIC.match(path):
                continue
            url = _fill(path)
            r = api.client.request(method.upper(), url)  # type: ignore[attr-defined]
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            r = api.client.request(  # type: ignore[attr-defined]
                method.upper(), url, headers={"Authorization": "Bearer not-a-jwt"}
            )
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 1


def test_login_and_me(api: Api) -> None:
    r = api.client.get("/api/v1/auth/me", headers=api.headers("dispatcher"))  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert r.json() == {"name": "user-dispatcher", "role": "dispatcher"}


def test_wrong_password_is_refused(api: Api) -> None:
    api.token("crew")
    r = api.client.post(  # type: ignore[attr-defined]
        "/api/v1/auth/token", data={"username": "user-crew", "password": "nope-nope"}
    )
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


def test_expired_token_is_refused(api: Api) -> None:
    from waternet.auth.models import Principal, Role
    from waternet.auth.security import issue_token

    app = api.client.app  # type: ignore[attr-defined]
    token = issue_token(
        Principal(name="x", role=Role.admin), secret=app.state.jwt_secret, minutes=-1
    )
    r = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})  # type: ignore[attr-defined]
    assert r.status_code == 401
    assert "expired" in r.json()["message"]


def test_health_and_metrics_are_public(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}  # type: ignore[attr-defined]
    r = api.client.get("/readyz")  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["database"] == "ok"
    assert "python_info" in api.client.get("/metrics").text  # type: ignore[attr-defined]
