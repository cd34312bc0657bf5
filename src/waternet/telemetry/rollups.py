"""Service-maintained rollups: dirty-bucket marking (writer side) and refresh (refresher side).

The ingest writer calls :func:`mark_dirty` inside its batch transaction: the (sensor, 1-minute
bucket) keys of the staged rows go to ``rollup_dirty``. :func:`refresh_dirty` takes a batch of
dirty keys, recomputes the 1-minute buckets from raw readings (late readings included), then the
15-minute, hourly and daily buckets containing them, each from the next finer level, and clears
the keys - all in one transaction.

Concurrency: the writer upserts its keys (``ON CONFLICT DO UPDATE``, not ``DO NOTHING``): the row
lock it takes makes the refresher skip (``SKIP LOCKED``) a key whose readings are not committed
yet, so a key is never cleared before the readings that dirtied it are visible. Only one
refresher works at a time (transaction-level advisory lock); others return 0.

With the Timescale license the levels are continuous aggregates; :func:`refresh_dirty` then
refreshes them over the dirty range with ``refresh_continuous_aggregate`` (not run in CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from waternet.telemetry.buckets import (
    DIRTY_TABLE,
    FINEST,
    LEVELS,
    bucket_expr,
    keys_table,
    parent_keys_sql,
    refresh_sql,
)

log = logging.getLogger(__name__)
REFRESH_LOCK = 0x57A7_0006  # advisory lock key of the single refresher
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _tz() -> str:
    from waternet.config import get_settings

    return get_settings().timezone


# postgres mode: a day partition of the 1-minute rollups wherever raw readings have one
ENSURE_1M_PARTITIONS = f"""
SELECT waternet_ensure_partition('readings_1m', d)
  FROM (SELECT DISTINCT (bucket AT TIME ZONE 'UTC')::date AS d FROM {keys_table(FINEST)}) x
 WHERE to_regclass('readings_p' || to_char(d, 'YYYYMMDD')) IS NOT NULL
   AND to_regclass('readings_1m_p' || to_char(d, 'YYYYMMDD')) IS NULL
"""


def mark_dirty(cur: Any, *, staging_table: str = "ingest_stage") -> None:
    """Record the finest buckets touched by the rows of ``staging_table`` (same transaction)."""
    if not _IDENT.match(staging_table):
        raise ValueError(f"bad staging table name {staging_table!r}")
    cur.execute(
        f"INSERT INTO {DIRTY_TABLE} (sensor_id, bucket) "
        f"SELECT DISTINCT sensor_id, {bucket_expr(FINEST, 'ts')} FROM {staging_table} "
        "ORDER BY 1, 2 "
        "ON CONFLICT (sensor_id, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at"
    )


def mark_range_dirty(
    cur: Any,
    *,
    start: datetime,
    end: datetime,
    sensor_ids: Sequence[int] | None = None,
) -> int:
    """Mark dirty every finest bucket holding readings in ``[start, end)`` (bulk loads, repairs,
    or rows written by a path that did not call :func:`mark_dirty`). Returns the keys marked."""
    cur.execute(
        f"INSERT INTO {DIRTY_TABLE} (sensor_id, bucket) "
        f"SELECT DISTINCT sensor_id, {bucket_expr(FINEST, 'ts')} FROM readings "
        "WHERE ts >= %(start)s AND ts < %(end)s "
        "AND (%(ids)s::int[] IS NULL OR sensor_id = ANY(%(ids)s::int[])) "
        "ORDER BY 1, 2 "
        "ON CONFLICT (sensor_id, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at",
        {"start": start, "end": end, "ids": list(sensor_ids) if sensor_ids is not None else None},
    )
    return int(cur.rowcount)


def _scalar(cur: Any) -> Any:
    row = cur.fetchone()
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _mode(cur: Any) -> str:
    cur.execute("SELECT value #>> '{}' FROM waternet_meta WHERE key = 'storage_mode'")
    return str(_scalar(cur) or "postgres")


def refresh_dirty(conn: psycopg.Connection[Any], *, limit: int | None = None) -> int:
    """Recompute the dirty buckets of every level and clear them; returns the number of finest
    (1-minute) keys processed. Commits (it owns its transaction)."""
    tz = _tz()
    cagg_range: tuple[datetime, datetime] | None = None
    lim = "" if limit is None else f" LIMIT {int(limit)}"
    # claim keys (skipping those a writer holds: its readings are not committed yet)
    claim = f"""
        WITH gone AS (
            DELETE FROM {DIRTY_TABLE} WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM {DIRTY_TABLE}{lim} FOR UPDATE SKIP LOCKED))
            RETURNING sensor_id, bucket
        )"""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (REFRESH_LOCK,))
        if not _scalar(cur):
            return 0
        mode = _mode(cur)
        if mode == "timescaledb":
            cur.execute(claim + " SELECT count(*), min(bucket), max(bucket) FROM gone")
            row = cur.fetchone()
            n, lo, hi = (
                (tuple(row.values()) if isinstance(row, dict) else row) if row else (0, None, None)
            )
            claimed = int(n or 0)
            if claimed:
                cagg_range = (lo, hi)
        else:
            cur.execute("SET LOCAL work_mem = '64MB'")
            cur.execute("SET LOCAL jit = off")
            for lv in LEVELS:
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {keys_table(lv)} (sensor_id integer "
                    "NOT NULL, bucket timestamptz NOT NULL) ON COMMIT DELETE ROWS"
                )
            cur.execute(
                claim + f" INSERT INTO {keys_table(FINEST)} (sensor_id, bucket) SELECT * FROM gone"
            )
            claimed = int(cur.rowcount)
            if claimed == 0:
                return 0
            if mode == "postgres":
                cur.execute(ENSURE_1M_PARTITIONS)
            for i, lv in enumerate(LEVELS):
                if i > 0:
                    cur.execute(parent_keys_sql(lv, LEVELS[i - 1]), {"tz": tz})
                cur.execute(refresh_sql(lv), {"tz": tz})
    if cagg_range is not None:
        _refresh_caggs(conn, *cagg_range)
    return claimed


def _refresh_caggs(conn: psycopg.Connection[Any], lo: datetime, hi: datetime) -> None:
    """Timescale-license path: refresh every continuous aggregate, finest first, over the
    dirty range (``refresh_continuous_aggregate`` cannot run in a transaction block)."""
    prev = conn.autocommit
    conn.autocommit = True
    try:
        for lv in LEVELS:
            conn.execute(
                f"CALL refresh_continuous_aggregate('{lv.table}', %s::timestamptz - %s::interval,"
                " %s::timestamptz + %s::interval)",
                (lo, lv.width, hi, lv.width * 2),
            )
    finally:
        conn.autocommit = prev


def refresh_all(conn: psycopg.Connection[Any], *, batch: int = 100_000) -> int:
    """Refresh until no dirty key is left (CLI: ``waternet rollups refresh``); returns keys."""
    total = 0
    while True:
        n = refresh_dirty(conn, limit=batch)
        total += n
        if n < batch:
            return total


def rebuild(
    conn: psycopg.Connection[Any],
    *,
    start: datetime,
    end: datetime,
    sensor_ids: Sequence[int] | None = None,
    batch: int = 100_000,
) -> int:
    """Recompute every level over ``[start, end)`` from raw readings (after a bulk load)."""
    with conn.transaction(), conn.cursor() as cur:
        mark_range_dirty(cur, start=start, end=end, sensor_ids=sensor_ids)
    return refresh_all(conn, batch=batch)


def dirty_backlog(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """How far behind the refresher is: dirty keys and the oldest mark."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*), min(marked_at) FROM {DIRTY_TABLE}")
        row = cur.fetchone()
    conn.commit()
    n, oldest = (row.values() if isinstance(row, dict) else row) if row else (0, None)
    return {"dirty_keys": int(n or 0), "oldest_mark": oldest}


def refresh_database(url: str, *, batch: int = 100_000) -> int:
    """CLI entry (``waternet rollups refresh``): refresh every dirty key of the database at
    ``url``; returns the number of 1-minute keys processed."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        return refresh_all(conn, batch=batch)


async def run_refresher(
    url: str,
    *,
    interval_s: float = 5.0,
    batch: int = 50_000,
    stop: asyncio.Event | None = None,
) -> None:
    """Background loop for the service: refresh the dirty buckets every ``interval_s`` seconds
    until ``stop`` is set. Database errors are logged and retried; nothing is lost (the keys
    stay dirty until a refresh commits)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            n = await asyncio.to_thread(refresh_database, url, batch=batch)
            if n:
                log.info(
                    "rollups refreshed",
                    extra={"keys": n, "seconds": round(time.perf_counter() - t0, 3)},
                )
        except psycopg.Error as exc:
            log.warning("rollup refresh failed, will retry", extra={"error": str(exc)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
