"""A short-lived async connection for CLI use cases (the API uses the pool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import dict_row

from waternet.db.connect import AsyncConnection
from waternet.errors import ServiceUnavailable


@asynccontextmanager
async def aconnect(url: str) -> AsyncIterator[AsyncConnection]:
    try:
        conn = await psycopg.AsyncConnection.connect(url, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(f"cannot connect to the database: {exc}".strip()) from exc
    try:
        yield conn
        await conn.commit()
    finally:
        await conn.close()
