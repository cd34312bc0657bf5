"""The one place where waternet errors become HTTP responses."""

from __future__ import annotations

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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

STATUS: list[tuple[type[WaternetError], int]] = [
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (ValidationFailed, 422),
    (DecodeError, 400),
    (ServiceUnavailable, 503),
]


def status_for(exc: WaternetError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def install(app: FastAPI) -> None:
    @app.exception_handler(WaternetError)
    async def _handle(_request: Request, exc: WaternetError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body = {"error": exc.code, "message": exc.message}
        if exc.details is not None:
            body["details"] = exc.details
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(psycopg.DataError)
    async def _bad_data(_request: Request, exc: psycopg.DataError) -> JSONResponse:
        # SQLSTATE class 22 and psycopg's own checks: the input, not the server, is at fault
        # (a NUL byte in a text parameter, a number out of a column's range...)
        return JSONResponse(
            {"error": "invalid_input", "message": f"invalid input: {str(exc)[:200]}"},
            status_code=422,
        )
