"""The HTTP contract: every JSON operation declares its response schema, every route lives under
its domain's /api/v1 prefix (or is a documented exception), and every 4xx/5xx answer has the one
error body of waternet.api.errors."""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Api
from waternet.errors import ValidationFailed

# Routes outside /api/v1/<domain>/..., and why (paths are contracts: never renamed).
NOT_UNDER_API = re.compile(r"^/(healthz|readyz|metrics)$")  # probes at the conventional paths
# The time-series query API reads across domains: readings of a sensor, latest values, DMA
# balance and night flow, meter and customer consumption, data quality.
TIMESERIES = re.compile(
    r"^/api/v1/(sensors/\{code\}/readings(\.csv)?|latest|dmas/\{dma\}/(balance|night-flow)"
    r"|meters/\{code\}/consumption|customers/\{customer\}/consumption|quality)$"
)
DOMAINS = ("auth", "sensors", "ingest", "network", "isolation")  # the map (gis) is /network
ERROR_KEYS = {"error", "message", "details"}


def free_form(schema: dict[str, Any]) -> bool:
    """True for a schema that says nothing: {} or an object/array of anything."""
    if not schema or schema == {"type": "object"}:
        return True
    if "$ref" in schema or "anyOf" in schema or "oneOf" in schema:
        return False
    if schema.get("type") == "array":
        return free_form(schema.get("items") or {})
    if schema.get("type") == "object":
        return not schema.get("properties") and schema.get("additionalProperties") in (None, True)
    return False


def test_free_form_recognises_empty_schemas() -> None:
    assert free_form({})
    assert free_form({"type": "object", "additionalProperties": True, "title": "x"})
    assert free_form({"type": "array", "items": {"type": "object"}})
    assert not free_form({"$ref": "#/components/schemas/PlanOut"})
    assert not free_form({"type": "array", "items": {"$ref": "#/components/schemas/X"}})
    assert not free_form({"type": "string"})


def test_every_json_operation_declares_its_response(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()  # type: ignore[attr-defined]
    missing, checked = [], 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                if not status.startswith("2"):
                    continue
                for media, content in resp.get("content", {}).items():
                    if media.endswith("json"):  # application/json, application/geo+json
                        checked += 1
                        if free_form(content.get("schema") or {}):
                            missing.append(f"{method.upper()} {path} {status} {media}")
    assert missing == []
    assert checked >= 25
    plan = spec["paths"]["/api/v1/isolation/plans"]["post"]["responses"]["200"]
    assert plan["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PlanOut"}
    detail = spec["components"]["schemas"]["PlanDetail"]["properties"]
    for key in (
        "valves_to_close",
        "steps",
        "passed_valves",
        "isolated_links",
        "cut_off_links",
        "affected_customers",
        "consequences",
        "restore",
        "what_if",
        "unsupplied_before_nodes",
        "unsupplied_before_links",
        "warnings",
    ):
        assert key in detail, key
    layers = spec["paths"]["/api/v1/network/layers/{layer}"]["get"]["responses"]["200"]
    assert set(layers["content"]) == {"application/geo+json"}


def test_every_operation_declares_the_error_body(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()  # type: ignore[attr-defined]
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for key in ("4XX", "5XX"):
                content = op["responses"][key]["content"]
                assert content == {"application/json": {"schema": ref}}, (method, path, key)
            assert "422" not in op["responses"] or path == "/readyz", (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    body = spec["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == ERROR_KEYS


def test_every_route_follows_the_prefix_scheme(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()  # type: ignore[attr-defined]
    stray = []
    for path in spec["paths"]:
        if NOT_UNDER_API.match(path) or TIMESERIES.match(path):
            continue
        m = re.match(r"^/api/v1/([a-z]+)(/|$)", path)
        if m is None or m.group(1) not in DOMAINS:
            stray.append(path)
    assert stray == []


def assert_error_body(r: Any, status: int, error: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error"] == error and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    for d in body["details"]:
        assert isinstance(d, dict) and isinstance(d["problem"], str) and d["problem"], d
        assert "field" in d and (d["field"] is None or isinstance(d["field"], str)), d
    return body


def test_representative_errors_have_the_one_body(api: Api) -> None:
    c = api.client
    # 401: no token, and a bad token
    assert_error_body(c.get("/api/v1/auth/me"), 401, "unauthorized")  # type: ignore[attr-defined]
    r = c.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-jwt"})  # type: ignore[attr-defined]
    assert_error_body(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    # 403: a role the endpoint does not admit
    r = c.get("/api/v1/isolation/criticality", headers=api.headers("crew"))  # type: ignore[attr-defined]
    assert_error_body(r, 403, "forbidden")
    # 404: an unknown path, and a NotFound from a service
    body = assert_error_body(c.get("/api/v1/no-such-thing"), 404, "not_found")  # type: ignore[attr-defined]
    assert "/api/v1/no-such-thing" in body["message"]
    r = c.get("/api/v1/sensors/PT-D01-000001", headers=api.headers("dispatcher"))  # type: ignore[attr-defined]
    assert_error_body(r, 404, "not_found")
    # 405: a known path with a method it does not serve
    r = c.delete("/healthz")  # type: ignore[attr-defined]
    assert_error_body(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]
    # 422: FastAPI's own validation of a bad body and of a bad query parameter
    r = c.post(
        "/api/v1/isolation/plans",
        json={"pipe": "1", "snap_m": -1, "what_if": "maybe"},  # type: ignore[attr-defined]
        headers=api.headers("dispatcher"),
    )
    body = assert_error_body(r, 422, "validation_failed")
    fields = {d["field"] for d in body["details"]}
    assert {"snap_m", "what_if"} <= fields, body
    assert all(d["in"] == "body" for d in body["details"])
    r = c.get("/api/v1/sensors", params={"limit": 0}, headers=api.headers("dispatcher"))  # type: ignore[attr-defined]
    body = assert_error_body(r, 422, "validation_failed")
    assert body["details"][0]["field"] == "limit" and body["details"][0]["in"] == "query"
    r = c.post("/api/v1/sensors", json=[{"unit": "bar"}], headers=api.headers("service"))  # type: ignore[attr-defined]
    body = assert_error_body(r, 422, "validation_failed")
    assert body["details"][0]["field"] == "0.code"
    # 422: a ValidationFailed raised by a service (details given as text there)
    r = c.post("/api/v1/sensors", json=[{"code": "bad"}], headers=api.headers("service"))  # type: ignore[attr-defined]
    body = assert_error_body(r, 422, "validation_failed")
    assert body["details"] and body["details"][0]["field"] is None
    assert "bad" in body["details"][0]["problem"]
    # 422: a value the database refuses, without its text
    r = c.get("/api/v1/sensors", params={"dma": "D\x0001"}, headers=api.headers("service"))  # type: ignore[attr-defined]
    body = assert_error_body(r, 422, "invalid_input")
    assert "0x00" not in body["message"] and "NUL" not in body["message"]


def _failing_app(api: Api) -> FastAPI:
    """The real app plus three routes that fail the ways only a broken server or database can."""
    app: FastAPI = api.client.app  # type: ignore[attr-defined]
    router = APIRouter(prefix="/test-failures", include_in_schema=False)

    @router.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals")

    @router.get("/db-down")
    async def db_down() -> None:
        raise psycopg.OperationalError("connection to 10.0.0.7 refused: password for x")

    @router.get("/details")
    async def details() -> None:
        raise ValidationFailed(
            "mixed", details=["as text", {"zoom": 25}, {"code": "bad", "message": "as message"}]
        )

    app.include_router(router)
    return app


def test_unexpected_and_database_errors_do_not_leak(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(_failing_app(api), raise_server_exceptions=False)
    with caplog.at_level(logging.INFO):
        body = assert_error_body(client.get("/test-failures/bug"), 500, "internal_error")
        assert "secret" not in body["message"]
        assert any(
            r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records
        ), "the 500 is logged with its traceback"
        body = assert_error_body(client.get("/test-failures/db-down"), 503, "database_unavailable")
        assert "10.0.0.7" not in body["message"]
    body = assert_error_body(client.get("/test-failures/details"), 422, "validation_failed")
    assert body["details"] == [
        {"field": None, "problem": "as text"},
        {"zoom": 25, "field": None, "problem": "zoom: 25"},
        {"code": "bad", "message": "as message", "field": None, "problem": "as message"},
    ]
