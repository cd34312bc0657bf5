"""Retention and partition maintenance (the policy is in docs/data-lifecycle.md).

* TimescaleDB (both licenses): ``drop_chunks`` on raw readings and on each rollup hypertable
  (continuous aggregates with the Timescale license).
* plain PostgreSQL: ``waternet_drop_partitions_before`` on the day-partitioned tables (raw and
  1-minute rollups) plus a ``DELETE`` of old rows left in their default partitions; ``DELETE`` on
  the coarser (unpartitioned) rollup tables.

Raw readings go first; every rollup level is kept at least as long as the finer one, so a
rollup is never older than its source's horizon.

Settings read (with these defaults until they exist on ``Settings``):
``retention_raw_days`` (400), ``retention_1m_days`` (730), ``retention_15m_days`` (1825),
``retention_1h_days`` (3650), ``retention_1d_days`` (0 = forever).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from waternet.errors import ConfigError
from waternet.timeseries.levels import DIRTY_TABLE, LEVELS

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

DEFAULT_RAW_DAYS = 400
PARTITION_DAYS_AHEAD = 7


@dataclass(frozen=True)
class RetentionPolicy:
    raw_days: int = DEFAULT_RAW_DAYS
    level_days: dict[str, int | None] = field(
        default_factory=lambda: {lv.name: lv.retention_days for lv in LEVELS}
    )

    def __post_init__(self) -> None:
        horizon: float = self.raw_days
        for lv in LEVELS:
            days = self.level_days.get(lv.name)
            keep = float("inf") if days is None else days
            if keep < horizon:
                raise ConfigError(
                    f"rollup level {lv.name} would be kept {days} days, less than the finer "
                    f"data ({horizon:g} days): keep every level at least as long"
                )
            horizon = keep

    @classmethod
    def from_settings(cls, settings: Any) -> RetentionPolicy:
        raw = int(getattr(settings, "retention_raw_days", DEFAULT_RAW_DAYS))
        levels: dict[str, int | None] = {}
        for lv in LEVELS:
            v = getattr(settings, f"retention_{lv.name}_days", lv.retention_days)
            levels[lv.name] = None if v in (None, 0) else int(v)
        return cls(raw_days=raw, level_days=levels)


@dataclass
class RetentionReport:
    mode: str
    dropped: dict[str, int] = field(default_factory=dict)  # table -> chunks/partitions/rows
    cutoffs: dict[str, str] = field(default_factory=dict)


def _one(cur: psycopg.Cursor[Any], sql: str, params: Any = None) -> Any:
    cur.execute(sql, params)
    row = cur.fetchone()
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def storage_mode(cur: psycopg.Cursor[Any]) -> str:
    return str(
        _one(cur, "SELECT value #>> '{}' FROM waternet_meta WHERE key = 'storage_mode'")
        or "postgres"
    )


def _drop_time_table(
    cur: psycopg.Cursor[Any], mode: str, table: str, col: str, cutoff: datetime, partitioned: bool
) -> int:
    if mode != "postgres":
        cur.execute("SELECT drop_chunks(%s::regclass, older_than => %s)", (table, cutoff))
        return len(cur.fetchall())
    if partitioned:
        parts = int(
            _one(cur, "SELECT waternet_drop_partitions_before(%s, %s)", (table, cutoff.date()))
        )
        cur.execute(f"DELETE FROM {table}_default WHERE {col} < %s", (cutoff,))
        return parts + int(cur.rowcount)
    cur.execute(f"DELETE FROM {table} WHERE {col} < %s", (cutoff,))
    return int(cur.rowcount)


def apply_retention(
    cur: psycopg.Cursor[Any], *, policy: RetentionPolicy, now: datetime | None = None
) -> RetentionReport:
    """Drop data older than the policy allows (call inside a transaction; never commits)."""
    now = now or datetime.now(UTC)
    mode = storage_mode(cur)
    report = RetentionReport(mode=mode)
    raw_cut = now - timedelta(days=policy.raw_days)
    report.cutoffs["readings"] = raw_cut.isoformat()
    report.dropped["readings"] = _drop_time_table(cur, mode, "readings", "ts", raw_cut, True)
    cur.execute(f"DELETE FROM {DIRTY_TABLE} WHERE bucket < %s", (raw_cut,))
    report.dropped[DIRTY_TABLE] = int(cur.rowcount)
    for lv in LEVELS:
        days = policy.level_days.get(lv.name)
        if days is None:
            continue
        cut = now - timedelta(days=days)
        report.cutoffs[lv.table] = cut.isoformat()
        partitioned = mode == "postgres" and lv.name == "1m"
        report.dropped[lv.table] = _drop_time_table(cur, mode, lv.table, "bucket", cut, partitioned)
    return report


def ensure_partitions(
    cur: psycopg.Cursor[Any], *, today: date | None = None, days_ahead: int = 0
) -> int:
    """postgres mode: create the daily partitions of raw readings and 1-minute rollups for the
    next days (rows outside any partition land in the default partition, never refused)."""
    if storage_mode(cur) != "postgres":
        return 0
    today = today or datetime.now(UTC).date()
    last = today + timedelta(days=days_ahead or PARTITION_DAYS_AHEAD)
    n = 0
    for table in ("readings", "readings_1m"):
        n += int(_one(cur, "SELECT waternet_ensure_partitions(%s, %s, %s)", (table, today, last)))
    return n


def ensure_partitions_between(cur: psycopg.Cursor[Any], first: date, last: date) -> int:
    """postgres mode: partitions for a past range (backfills, bulk loads)."""
    if storage_mode(cur) != "postgres":
        return 0
    n = 0
    for table in ("readings", "readings_1m"):
        n += int(_one(cur, "SELECT waternet_ensure_partitions(%s, %s, %s)", (table, first, last)))
    return n


def run_maintenance(url: str, *, now: datetime | None = None) -> RetentionReport:
    """CLI entry (``waternet maintenance``, daily): partitions for the coming week (postgres
    mode) and retention with the policy from the settings, in one transaction."""
    import psycopg

    from waternet.config import get_settings

    policy = RetentionPolicy.from_settings(get_settings())
    with psycopg.connect(url, connect_timeout=5) as conn, conn.transaction(), conn.cursor() as cur:
        ensure_partitions(cur)
        return apply_retention(cur, policy=policy, now=now)
