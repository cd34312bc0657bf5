"""The request's database connection, from the process's one pool (``app.state.pool``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection

from waternet.db.connect import DictRow
from waternet.errors import ConfigError


async def db_conn(request: Request) -> AsyncIterator[AsyncConnection[DictRow]]:
    async with request.app.state.pool.connection() as conn:
        yield conn


DbConn = Annotated[AsyncConnection[DictRow], Depends(db_conn)]


def database_url(request: Request) -> str:
    """The database URL of the process (for the synchronous services that load network versions
    into the per-process cache)."""
    url = request.app.state.settings.database_url
    if not url:  # pragma: no cover - create_app refuses to start without one
        raise ConfigError("WATERNET_DATABASE_URL is not set")
    return str(url)
