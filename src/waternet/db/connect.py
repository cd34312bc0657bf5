"""Connections and pools. Repositories receive a connection; the service layer owns transactions.

One pool per process. A long-running process reaches the database through one pool whose size
is its whole connection budget, ``WATERNET_DB_POOL_MAX``:

* The API process opens one :class:`AsyncConnectionPool` (:func:`make_async_pool`, named
  :data:`API_APP_NAME` in ``pg_stat_activity``). Every handler borrows from it (``DbConn``, or
  ``pool.connection()`` for a short borrow before CPU work that runs in a worker thread); nothing
  in the process calls :func:`connect` or ``psycopg.connect``.
* The one exception is the HTTP push writer (``waternet.ingest.writer.Writer``): its COPY-based
  writes keep one synchronous connection of their own, and that connection is counted within the
  budget, so the pool gets ``WATERNET_DB_POOL_MAX - PUSH_WRITER_CONNECTIONS`` (see
  :func:`api_pool_size`); ``WATERNET_DB_POOL_MAX`` must be at least 2 for the API.
* Short-lived processes (CLI commands, migrations, tests) use :func:`connect` /
  ``waternet.db.aconnect.aconnect``: one connection at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from waternet.errors import ConfigError, ServiceUnavailable

API_APP_NAME = "waternet-api"
PUSH_WRITER_CONNECTIONS = 1  # the API's HTTP push writer keeps one connection of its own

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


def api_pool_size(budget: int) -> int:
    """The API pool's size for a budget of ``budget`` connections (``WATERNET_DB_POOL_MAX``):
    what the push writer's connection leaves."""
    size = budget - PUSH_WRITER_CONNECTIONS
    if size < 1:
        raise ConfigError(
            f"WATERNET_DB_POOL_MAX={budget}: the API needs at least "
            f"{PUSH_WRITER_CONNECTIONS + 1} (one for the push writer, one for the pool)"
        )
    return size


def make_async_pool(
    url: str, *, max_size: int = 10, application_name: str = API_APP_NAME
) -> AsyncConnectionPool[AsyncConnection]:
    """The process's one async pool; open it with ``await pool.open()``. Its connections show
    as ``application_name`` in ``pg_stat_activity``."""
    return AsyncConnectionPool(
        url,
        connection_class=cast("type[AsyncConnection]", psycopg.AsyncConnection),
        name=application_name,
        min_size=1,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "application_name": application_name},
        open=False,
        timeout=30,
    )
