"""Connections and pools. Repositories receive a connection; the service layer owns transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from waternet.errors import ServiceUnavailable

DictRow: TypeAlias = dict[str, Any]
"""The row type of waternet's connections (``row_factory=dict_row``)."""
Connection: TypeAlias = psycopg.Connection[DictRow]
AsyncConnection: TypeAlias = psycopg.AsyncConnection[DictRow]


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[Connection]:
    """A short-lived synchronous connection (CLI, migrations, tests)."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(f"cannot connect to the database: {exc}".strip()) from exc
    try:
        yield conn
    finally:
        conn.close()


def make_async_pool(url: str, *, max_size: int = 10) -> AsyncConnectionPool:
    """An async pool for the API; open it with ``await pool.open()``."""
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"row_factory": dict_row},
        open=False,
        timeout=10,
    )
