"""Service-maintained rollups: dirty-bucket marking (writer side) and refresh (refresher side).

Two paths, after TimescaleDB's own continuous-aggregate design (an invalidation threshold and
a materialization watermark, both in ``rollup_watermark``):

* **On-time readings (by range).** Readings at or after the *threshold* need nothing from the
  writer. The refresher raises the threshold to a minute boundary ``lag`` behind ``now()``,
  then recomputes every 1-minute bucket between ``done`` and the threshold in one scan of raw
  readings, in steps of at most ``step``, moving ``done`` in the same transaction.
* **Late readings (by key).** The writer's :func:`mark_dirty`, inside its batch transaction,
  records the (sensor, 1-minute bucket) keys of the rows older than the threshold in
  ``rollup_dirty``; :func:`refresh_dirty` recomputes those buckets from raw readings.

Then the 15-minute, hourly and daily buckets containing any recomputed minute are recomputed,
each from the next finer level, in the same transaction.

Concurrency: the writer takes a shared advisory lock (:data:`THRESHOLD_LOCK`) before it reads
the threshold and holds it to its commit; the refresher raises the threshold under the same
lock taken exclusively, so it waits for the writers in flight: when the range up to the new
threshold is read, every reading written under the old threshold is committed, and every
later writer compares with the new one. The writer upserts its keys (``ON CONFLICT DO
UPDATE``, not ``DO NOTHING``): the row lock makes the refresher skip (``SKIP LOCKED``) a key
whose readings are not committed yet, so a key is never cleared before they are visible. One
refresher works at a time (transaction-level advisory lock); others return 0.

With the Timescale license the levels are continuous aggregates; :func:`refresh_dirty` then
refreshes them over the range of late keys with ``refresh_continuous_aggregate`` and leaves
on-time data to the aggregates' own policies (not run in CI).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from waternet.timeseries.levels import (
    DIRTY_TABLE,
    FINEST,
    LEVELS,
    WATERMARK_TABLE,
    Level,
    bucket_expr,
    key_span_sql,
    keys_table,
    parent_keys_sql,
    range_refresh_sql,
    refresh_sql,
)

log = logging.getLogger(__name__)
REFRESH_LOCK = 0x57A7_0006  # advisory lock key of the single refresher
THRESHOLD_LOCK = 0x57A7_0007  # writers hold it shared; the refresher raises the threshold
DEFAULT_LAG = timedelta(minutes=2)  # how far behind now() on-time readings are rolled up
DEFAULT_STEP = timedelta(hours=1)  # most raw time recomputed by range in one transaction
MIN_STEP = timedelta(minutes=1)
MAX_RANGE_ROWS = 2_000_000  # refresh_all shortens the step when a range reads more
THRESHOLD_WAIT = "5s"  # longest wait for writers in flight; the raise is retried next cycle
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _tz() -> str:
    from waternet.config import get_settings

    return get_settings().timezone


# postgres mode: a day partition of the 1-minute rollups wherever raw readings have one
_ENSURE_1M = """
SELECT waternet_ensure_partition('readings_1m', d)
  FROM ({days}) x
 WHERE to_regclass('readings_p' || to_char(d, 'YYYYMMDD')) IS NOT NULL
   AND to_regclass('readings_1m_p' || to_char(d, 'YYYYMMDD')) IS NULL
"""
ENSURE_1M_PARTITIONS = _ENSURE_1M.format(
    days=f"SELECT DISTINCT (bucket AT TIME ZONE 'UTC')::date AS d FROM {keys_table(FINEST)}"
)
ENSURE_1M_RANGE_PARTITIONS = _ENSURE_1M.format(
    days="SELECT g::date AS d FROM generate_series(date_trunc('day', %(lo)s AT TIME ZONE 'UTC'),"
    " %(hi)s AT TIME ZONE 'UTC', interval '1 day') g"
)


def mark_dirty(cur: psycopg.Cursor[Any], *, staging_table: str = "ingest_stage") -> None:
    """Record the finest buckets touched by the rows of ``staging_table`` that are older than
    the threshold (late readings). Call it in the writer's batch transaction, after the insert:
    the shared lock it takes is held to the commit."""
    if not _IDENT.match(staging_table):
        raise ValueError(f"bad staging table name {staging_table!r}")
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (THRESHOLD_LOCK,))
    # a statement of its own, so that it reads the threshold after the lock is granted
    cur.execute(
        f"INSERT INTO {DIRTY_TABLE} (sensor_id, bucket) "
        f"SELECT DISTINCT sensor_id, {bucket_expr(FINEST, 'ts')} FROM {staging_table} "
        f"WHERE ts < (SELECT threshold FROM {WATERMARK_TABLE}) "
        "ORDER BY 1, 2 "
        "ON CONFLICT (sensor_id, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at"
    )


def mark_range_dirty(
    cur: psycopg.Cursor[Any],
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


def _fetch(cur: psycopg.Cursor[Any], width: int) -> tuple[Any, ...]:
    """The next row as a tuple whatever the cursor's row factory; NULLs when there is none."""
    row = cur.fetchone()
    if row is None:
        return (None,) * width
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _scalar(cur: psycopg.Cursor[Any]) -> Any:
    return _fetch(cur, 1)[0]


def _mode(cur: psycopg.Cursor[Any]) -> str:
    cur.execute("SELECT value #>> '{}' FROM waternet_meta WHERE key = 'storage_mode'")
    return str(_scalar(cur) or "postgres")


def raise_threshold(conn: psycopg.Connection[Any], *, lag: timedelta = DEFAULT_LAG) -> bool:
    """Move the threshold up to the minute ``lag`` behind ``now()``, after the writers in
    flight have committed. Commits. False when they took longer than :data:`THRESHOLD_WAIT`
    (the next cycle tries again; nothing is lost, the range just waits)."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                f"SELECT threshold < date_trunc('minute', now() - %s) FROM {WATERMARK_TABLE}",
                (lag,),
            )
            if not _scalar(cur):
                return True
            cur.execute(f"SET LOCAL lock_timeout = '{THRESHOLD_WAIT}'")
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (THRESHOLD_LOCK,))
            cur.execute(
                f"UPDATE {WATERMARK_TABLE} SET threshold = "
                "greatest(threshold, date_trunc('minute', now() - %s))",
                (lag,),
            )
        return True
    except psycopg.errors.LockNotAvailable:
        log.warning("rollup threshold not raised: writers held it too long; retrying later")
        return False


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one refresh cycle did."""

    buckets: int  # 1-minute buckets recomputed (late keys and the range)
    raw_rows: int  # raw readings the range path read
    moved: bool = False  # the watermark advanced (a range was done, with readings or not)


def refresh_dirty(
    conn: psycopg.Connection[Any],
    *,
    limit: int | None = None,
    lag: timedelta = DEFAULT_LAG,
    step: timedelta = DEFAULT_STEP,
) -> int:
    """One refresh cycle (:func:`refresh_cycle`); returns the 1-minute buckets recomputed
    (0: nothing was left to do)."""
    return refresh_cycle(conn, limit=limit, lag=lag, step=step).buckets


def refresh_cycle(
    conn: psycopg.Connection[Any],
    *,
    limit: int | None = None,
    lag: timedelta = DEFAULT_LAG,
    step: timedelta = DEFAULT_STEP,
) -> Cycle:
    """Raise the threshold, then recompute up to ``limit`` late keys and up to ``step`` of
    on-time raw time, every level, in one transaction (commits)."""
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
    with conn.cursor() as cur:
        mode = _mode(cur)
    conn.commit()
    if mode != "timescaledb":
        raise_threshold(conn, lag=lag)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (REFRESH_LOCK,))
        if not _scalar(cur):
            return Cycle(0, 0)
        if mode == "timescaledb":
            cur.execute(claim + " SELECT count(*), min(bucket), max(bucket) FROM gone")
            n, lo, hi = _fetch(cur, 3)
            cycle = Cycle(int(n or 0), 0)
            if cycle.buckets:
                cagg_range = (lo, hi)
        else:
            cycle = _refresh_tables(cur, mode=mode, claim=claim, step=step, tz=tz)
    if cagg_range is not None:
        _refresh_caggs(conn, *cagg_range)
    return cycle


def _refresh_tables(
    cur: psycopg.Cursor[Any], *, mode: str, claim: str, step: timedelta, tz: str
) -> Cycle:
    """The service-maintained levels: late keys, then the next range, then the coarser levels."""
    cur.execute("SET LOCAL work_mem = '64MB'")
    cur.execute("SET LOCAL jit = off")
    for lv in LEVELS:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {keys_table(lv)} (sensor_id integer "
            "NOT NULL, bucket timestamptz NOT NULL) ON COMMIT DELETE ROWS"
        )
    cur.execute(claim + f" INSERT INTO {keys_table(FINEST)} (sensor_id, bucket) SELECT * FROM gone")
    claimed = int(cur.rowcount)
    cur.execute(
        f"SELECT done, least(threshold, done + %s) FROM {WATERMARK_TABLE} FOR UPDATE", (step,)
    )
    lo, hi = _fetch(cur, 2)
    moved = lo is not None and hi is not None and hi > lo
    ranged = raw = 0
    if claimed:
        if mode == "postgres":
            cur.execute(ENSURE_1M_PARTITIONS)
        _refresh_keys(cur, FINEST, tz)
    if moved:
        if mode == "postgres":
            cur.execute(ENSURE_1M_RANGE_PARTITIONS, {"lo": lo, "hi": hi})
        cur.execute(range_refresh_sql(), {"lo": lo, "hi": hi, "tz": tz})
        ranged, raw = (int(x) for x in _fetch(cur, 2))
        cur.execute(f"UPDATE {WATERMARK_TABLE} SET done = %s", (hi,))
    if claimed + ranged == 0:
        return Cycle(0, 0, moved)
    for i, lv in enumerate(LEVELS[1:], start=1):
        cur.execute(parent_keys_sql(lv, LEVELS[i - 1]), {"tz": tz})
        _refresh_keys(cur, lv, tz)
    return Cycle(claimed + ranged, raw, moved)


def _refresh_keys(cur: psycopg.Cursor[Any], lv: Level, tz: str) -> None:
    """Recompute the buckets of ``lv`` listed in its key table (none: nothing to do)."""
    cur.execute(key_span_sql(lv), {"tz": tz})
    klo, khi = _fetch(cur, 2)
    if klo is not None:
        cur.execute(refresh_sql(lv), {"tz": tz, "klo": klo, "khi": khi})


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


def refresh_all(
    conn: psycopg.Connection[Any],
    *,
    batch: int = 100_000,
    lag: timedelta = DEFAULT_LAG,
    max_rows: int = MAX_RANGE_ROWS,
) -> int:
    """Refresh until no dirty key is left and the range has caught up with the threshold
    (CLI: ``waternet rollups-refresh``); returns the 1-minute buckets recomputed. The range
    step adapts so that a transaction reads about ``max_rows`` raw readings at most (after an
    outage of the refresher, catching up stays in bounded transactions)."""
    total = 0
    step = DEFAULT_STEP
    while True:
        cycle = refresh_cycle(conn, limit=batch, lag=lag, step=step)
        total += cycle.buckets
        if cycle.buckets == 0 and not cycle.moved:
            return total
        if cycle.raw_rows > max_rows:
            step = max(MIN_STEP, (step * max_rows / cycle.raw_rows) // MIN_STEP * MIN_STEP)
        elif cycle.raw_rows < max_rows // 4:
            step = min(DEFAULT_STEP, step * 2)


def rebuild(
    conn: psycopg.Connection[Any],
    *,
    start: datetime,
    end: datetime,
    sensor_ids: Sequence[int] | None = None,
    batch: int = 100_000,
) -> int:
    """Recompute every level over ``[start, end)`` from raw readings (after a bulk load or a
    repair). Every sensor: by range (``done`` moves back to ``start``; what lies beyond the
    threshold follows as it rises). Some sensors: by key."""
    with conn.transaction(), conn.cursor() as cur:
        if sensor_ids is None:
            cur.execute(f"UPDATE {WATERMARK_TABLE} SET done = least(done, %s)", (start,))
        else:
            mark_range_dirty(cur, start=start, end=end, sensor_ids=sensor_ids)
    return refresh_all(conn, batch=batch)


def dirty_backlog(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """How far behind the refresher is: dirty keys, the oldest mark, and the on-time range
    (every bucket before ``materialized_to`` is done; readings before ``threshold`` are
    marked by key)."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT (SELECT count(*) FROM {DIRTY_TABLE}), (SELECT min(marked_at) FROM "
            f"{DIRTY_TABLE}), done, threshold FROM {WATERMARK_TABLE}"
        )
        n, oldest, done, threshold = _fetch(cur, 4)
    conn.commit()
    return {
        "dirty_keys": int(n or 0),
        "oldest_mark": oldest,
        "materialized_to": done,
        "threshold": threshold,
    }


def refresh_database(url: str, *, batch: int = 100_000) -> int:
    """CLI entry (``waternet rollups refresh``): refresh every dirty key of the database at
    ``url``; returns the number of 1-minute keys processed."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        return refresh_all(conn, batch=batch)
