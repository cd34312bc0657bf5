"""The request's database connection, from the process's one pool (``app.state.pool``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from waternet.db.connect import AsyncConnection


async def db_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.pool.connection() as conn:
        yield conn


DbConn = Annotated[AsyncConnection, Depends(db_conn)]
"""A pooled connection held for the whole request (committed at its end)."""


def db_pool(request: Request) -> AsyncConnectionPool[AsyncConnection]:
    """The process's pool, for handlers that borrow a connection briefly (``async with
    db_pool(request).connection() as conn``) and then run CPU work in a worker thread without
    holding it."""
    pool: AsyncConnectionPool[AsyncConnection] = request.app.state.pool
    return pool
