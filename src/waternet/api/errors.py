"""The one place where errors become HTTP responses.

Every 4xx and 5xx answer of the API has one body, ``ErrorBody`` (``waternet.api.schemas``)::

    {"error": "<code>", "message": "<text>", "details": [{"field": ..., "problem": ...}, ...]}

* ``error``: a stable machine-readable code. A ``WaternetError``'s ``code`` (``validation_failed``,
  ``not_found``, ``unauthorized``, ``forbidden``, ``conflict``, ``decode_error``,
  ``service_unavailable``...; the tree is in ``waternet.errors``); ``invalid_input`` for a value
  the database refused; ``database_unavailable`` when the database cannot be reached;
  ``internal_error`` for anything unexpected; for refusals of the HTTP layer itself (unknown path,
  method not allowed...) the status phrase in snake case (``not_found``, ``method_not_allowed``).
* ``message``: what went wrong, for people. Never the text of a database or internal exception:
  those are logged (with traceback for 500s) and answered with a generic message.
* ``details``: always a list, empty when there is no more to say; every item is an object
  (``ErrorDetail``)::

      {"field": "<input>" | null, "problem": "<text>", ...extra keys}

  ``field`` names the input at fault: a query/path parameter (``bbox``, ``from``) or a dotted
  path into the body (``point.lon``, ``0.code`` for item 0 of a list body); null when no single
  input is. ``problem`` says what is wrong. Extra keys may follow and are kept: ``in``
  (query/path/body/header) and ``type`` (pydantic's error type) for request validation; a
  network import's issues keep ``severity``, ``code``, ``element``, ``layer`` and ``message``;
  an unknown stuck valve has ``valve``. Services may give details as text or as objects of
  other keys; ``normalise_details`` brings them to this shape (text becomes the ``problem``;
  ``message`` stands in for a missing ``problem``; other keys are described in it).

Statuses: see ``STATUS`` (a ``WaternetError`` not listed is a 500). Validation of the request by
FastAPI is a 422 ``validation_failed`` like a service's ``ValidationFailed``. The OpenAPI
document declares ``ErrorBody`` for ``4XX`` and ``5XX`` on every operation (``install``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waternet.api.schemas import ErrorBody
from waternet.errors import (
    AuthError,
    Conflict,
    DecodeError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    WaternetError,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[WaternetError], int]] = [
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (ValidationFailed, 422),
    (DecodeError, 400),
    (ServiceUnavailable, 503),
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Refused: the error body says why"},
    "5XX": {"model": ErrorBody, "description": "Failed or unavailable: the error body says why"},
}
_REQUEST_PARTS = ("body", "query", "path", "header", "cookie")


def status_for(exc: WaternetError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _detail(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        out = {str(k): v for k, v in item.items()}
        if "problem" not in out:
            if "message" in out:
                out["problem"] = str(out["message"])
            else:
                out["problem"] = "; ".join(f"{k}: {v}" for k, v in out.items()) or "invalid"
        else:
            out["problem"] = str(out["problem"])
        field = out.get("field")
        out["field"] = None if field is None else str(field)
        return out
    return {"field": None, "problem": str(item)}


def normalise_details(details: Any) -> list[dict[str, Any]]:
    """Any ``details`` a service gave (None, text, an object, a list of either) as a list of
    ``{"field", "problem", ...}`` objects."""
    if details is None:
        return []
    if isinstance(details, str | dict) or not isinstance(details, Iterable):
        return [_detail(details)]
    return [_detail(d) for d in details]


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic request errors as error details (the input's value is not echoed)."""
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        where = loc[0] if loc and loc[0] in _REQUEST_PARTS else None
        path = loc[1:] if where is not None else loc
        item: dict[str, Any] = {"field": ".".join(path) or None, "problem": str(e.get("msg", ""))}
        if where is not None:
            item["in"] = where
        if e.get("type"):
            item["type"] = str(e["type"])
        out.append(item)
    return out


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": code, "message": message, "details": normalise_details(details)}
    return JSONResponse(body, status_code=status, headers=headers)


def _snake(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


class CatchAll:
    """ASGI middleware: an exception nothing else handled becomes a logged 500 with the error
    body (once the response has started it can only be logged and re-raised)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception(
                "unhandled error", extra={"method": scope.get("method"), "path": scope.get("path")}
            )
            if started:
                raise
            response = error_response(500, "internal_error", "internal error")
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Exception handlers, the catch-all and the error body in the OpenAPI document. Call it
    before including the routers (they inherit ``ERROR_RESPONSES``)."""
    app.router.responses = {**ERROR_RESPONSES, **app.router.responses}
    app.add_middleware(CatchAll)
    _error_bodies_are_json(app)

    @app.exception_handler(WaternetError)
    async def _handle(_request: Request, exc: WaternetError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        return error_response(422, ValidationFailed.code, "invalid request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, _snake(exc.status_code), message, None, headers)

    @app.exception_handler(psycopg.DataError)
    async def _bad_data(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # SQLSTATE class 22 and psycopg's own checks: the input, not the server, is at fault
        # (a NUL byte in a text parameter, a number out of a column's range...). The database's
        # text stays in the log.
        log.info("database refused a value: %s", exc, extra={"path": request.url.path})
        return error_response(
            422, "invalid_input", "invalid input: a value was out of range or not representable"
        )

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        # connection refused or lost, pool timeout: retry later
        log.error("database unavailable: %s", exc, extra={"path": request.url.path})
        return error_response(
            503,
            "database_unavailable",
            "the database is unavailable, retry later",
            headers={"Retry-After": "5"},
        )


def _error_bodies_are_json(app: FastAPI) -> None:
    """FastAPI files an operation's extra responses under the operation's own media type
    (``text/plain``, ``application/geo+json``); error bodies are always ``application/json``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                for key in ERROR_RESPONSES:
                    resp = op.get("responses", {}).get(str(key))
                    if resp is not None:
                        schemas = [c["schema"] for c in resp.get("content", {}).values()]
                        if schemas:
                            resp["content"] = {"application/json": {"schema": schemas[0]}}
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
