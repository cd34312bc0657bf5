"""The ONE definition of the rollup levels, and the SQL generated from it.

Levels: 1 min, 15 min, 1 h, 1 day. Each level is computed from the next finer one (1 min from raw
readings), which is exact for the stored aggregates (count, min, max, sum, first and last value
and time; the mean is ``vsum / n``). Two generators read the same :data:`LEVELS`:

* :func:`refresh_sql` - the service-maintained rollup tables (TimescaleDB Apache build and plain
  PostgreSQL): recompute the buckets listed in a temporary key table, upsert them.
* :func:`cagg_sql` - TimescaleDB continuous aggregates (Timescale license only; hierarchical
  caggs, each on the finer one) with their refresh policies.

Sub-day levels are aligned to UTC (``date_bin`` from :data:`ORIGIN`); the day level is the local
day of the utility's zone (``get_settings().timezone``), computed with ``AT TIME ZONE`` so that it
stays right across daylight-saving changes.

Pure: no database access, no FastAPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

ORIGIN = "2000-01-01 00:00:00+00"
RAW = "readings"
COLUMNS = (
    "sensor_id",
    "bucket",
    "n",
    "vmin",
    "vmax",
    "vsum",
    "first_ts",
    "first_value",
    "last_ts",
    "last_value",
)


@dataclass(frozen=True, slots=True)
class Level:
    name: str  # "1m"
    width: timedelta
    table: str  # table (or continuous aggregate) name
    source: str | None  # name of the finer level; None: raw readings
    chunk: timedelta  # hypertable chunk interval of the rollup table
    retention_days: int | None  # default retention; None keeps forever
    refresh_lag: timedelta  # cagg policy: how far behind now() the policy stops

    @property
    def interval_sql(self) -> str:
        return f"{int(self.width.total_seconds())} seconds"

    @property
    def is_day(self) -> bool:
        return self.width == timedelta(days=1)

    @property
    def seconds(self) -> int:
        return int(self.width.total_seconds())


LEVELS: tuple[Level, ...] = (
    Level(
        "1m",
        timedelta(minutes=1),
        "readings_1m",
        None,
        timedelta(days=1),
        730,
        timedelta(minutes=1),
    ),
    Level(
        "15m",
        timedelta(minutes=15),
        "readings_15m",
        "1m",
        timedelta(days=14),
        1825,
        timedelta(minutes=15),
    ),
    Level(
        "1h", timedelta(hours=1), "readings_1h", "15m", timedelta(days=60), 3650, timedelta(hours=1)
    ),
    Level(
        "1d", timedelta(days=1), "readings_1d", "1h", timedelta(days=365), None, timedelta(days=1)
    ),
)
BY_NAME: dict[str, Level] = {lv.name: lv for lv in LEVELS}
FINEST = LEVELS[0]
DIRTY_TABLE = "rollup_dirty"
WATERMARK_TABLE = "rollup_watermark"


def level(name: str) -> Level:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown rollup level {name!r}; known: {', '.join(BY_NAME)}") from None


def bucket_expr(lv: Level, col: str, *, tz_param: str = "%(tz)s") -> str:
    """SQL for the bucket of timestamp column ``col`` at level ``lv`` (service path)."""
    if lv.is_day:
        return f"(date_trunc('day', {col} AT TIME ZONE {tz_param}) AT TIME ZONE {tz_param})"
    return f"date_bin('{lv.interval_sql}'::interval, {col}, TIMESTAMPTZ '{ORIGIN}')"


def bucket_end_expr(lv: Level, col: str, *, tz_param: str = "%(tz)s") -> str:
    """SQL for the (exclusive) end of the bucket starting at ``col``."""
    if lv.is_day:
        return f"((({col} AT TIME ZONE {tz_param}) + interval '1 day') AT TIME ZONE {tz_param})"
    return f"({col} + interval '{lv.interval_sql}')"


# --- aggregates: one list, two dialects -------------------------------------------------------
# (column, from raw readings (service), from raw (cagg), from finer level (service),
#  from finer level (cagg))
AGGREGATES: tuple[tuple[str, str, str, str, str], ...] = (
    ("n", "count(*)", "count(*)", "sum(s.n)", "sum(n)"),
    ("vmin", "min(s.value)", "min(value)", "min(s.vmin)", "min(vmin)"),
    ("vmax", "max(s.value)", "max(value)", "max(s.vmax)", "max(vmax)"),
    ("vsum", "sum(s.value)", "sum(value)", "sum(s.vsum)", "sum(vsum)"),
    ("first_ts", "min(s.ts)", "min(ts)", "min(s.first_ts)", "min(first_ts)"),
    (
        "first_value",
        "(array_agg(s.value ORDER BY s.ts))[1]",
        "first(value, ts)",
        "(array_agg(s.first_value ORDER BY s.first_ts))[1]",
        "first(first_value, first_ts)",
    ),
    ("last_ts", "max(s.ts)", "max(ts)", "max(s.last_ts)", "max(last_ts)"),
    (
        "last_value",
        "(array_agg(s.value ORDER BY s.ts DESC))[1]",
        "last(value, ts)",
        "(array_agg(s.last_value ORDER BY s.last_ts DESC))[1]",
        "last(last_value, last_ts)",
    ),
)
assert tuple(a[0] for a in AGGREGATES) == COLUMNS[2:]


def source_table(lv: Level) -> str:
    return RAW if lv.source is None else BY_NAME[lv.source].table


def source_time(lv: Level) -> str:
    return "ts" if lv.source is None else "bucket"


def keys_table(lv: Level) -> str:
    """Name of the temporary table holding the keys (sensor_id, bucket) to recompute."""
    return f"_rollup_keys_{lv.name}"


def refresh_sql(lv: Level) -> str:
    """Recompute the buckets of ``lv`` listed in :func:`keys_table` from the source level.

    The keys are first merged into runs of consecutive buckets per sensor, and each run is read
    with one index range scan of the source (not one probe per bucket; ``OFFSET 0`` keeps the
    planner from turning that into a merge join over the whole source). Parameters: ``%(tz)s``
    (the utility's zone, used by the day level), ``%(klo)s`` and ``%(khi)s`` (the keys' time
    span, from :func:`key_span_sql`: constant bounds let TimescaleDB leave out the chunks
    outside it once per statement, not once per run - the source has a chunk a day)."""
    raw = lv.source is None
    aggs = ",\n       ".join(a[1] if raw else a[3] for a in AGGREGATES)
    t = source_time(lv)
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
    src_cols = "ts, value" if raw else ", ".join(c for c in COLUMNS[1:])
    return f"""
WITH runs AS (
    SELECT sensor_id, min(bucket) AS lo, {bucket_end_expr(lv, "max(bucket)")} AS hi
      FROM (SELECT sensor_id, bucket,
                   bucket - (row_number() OVER (PARTITION BY sensor_id ORDER BY bucket))
                            * interval '{lv.interval_sql}' AS grp
              FROM {keys_table(lv)}) x
     GROUP BY sensor_id, grp
)
INSERT INTO {lv.table} AS r ({cols})
SELECT runs.sensor_id, {bucket_expr(lv, "s." + t)},
       {aggs}
  FROM runs CROSS JOIN LATERAL (
       SELECT {src_cols} FROM {source_table(lv)} src
        WHERE src.sensor_id = runs.sensor_id AND src.{t} >= runs.lo AND src.{t} < runs.hi
          AND src.{t} >= %(klo)s AND src.{t} < %(khi)s
       OFFSET 0) s
 GROUP BY 1, 2
 ORDER BY 1, 2
ON CONFLICT (sensor_id, bucket) DO UPDATE SET {updates}
"""


def range_refresh_sql() -> str:
    """Recompute every finest (1-minute) bucket with raw readings in ``[%(lo)s, %(hi)s)`` and
    record their keys in the finest key table (for the coarser levels). One scan of the range,
    no key per reading: the path of on-time readings (``rollups`` moves the range). Returns
    one row: buckets written, raw readings read."""
    lv = FINEST
    aggs = ",\n       ".join(a[1] for a in AGGREGATES)
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
    return f"""
WITH up AS (
    INSERT INTO {lv.table} AS r ({cols})
    SELECT s.sensor_id, {bucket_expr(lv, "s.ts")},
           {aggs}
      FROM {RAW} s
     WHERE s.ts >= %(lo)s AND s.ts < %(hi)s
     GROUP BY 1, 2
     ORDER BY 1, 2
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET {updates}
    RETURNING r.sensor_id, r.bucket, r.n
), keyed AS (
    INSERT INTO {keys_table(lv)} (sensor_id, bucket) SELECT sensor_id, bucket FROM up
)
SELECT count(*), coalesce(sum(n), 0) FROM up
"""


def key_span_sql(lv: Level) -> str:
    """(first bucket start, last bucket end) of the keys of ``lv``; NULLs when there are none."""
    return f"SELECT min(bucket), {bucket_end_expr(lv, 'max(bucket)')} FROM {keys_table(lv)}"


def parent_keys_sql(lv: Level, finer: Level) -> str:
    """Fill the key table of ``lv`` with the buckets containing the refreshed ``finer`` keys."""
    return (
        f"INSERT INTO {keys_table(lv)} (sensor_id, bucket) "
        f"SELECT DISTINCT sensor_id, {bucket_expr(lv, 'bucket')} FROM {keys_table(finer)}"
    )


def table_ddl(lv: Level) -> str:
    """DDL of a service-maintained rollup table (partitioning added by the migration)."""
    return f"""
CREATE TABLE {lv.table} (
    sensor_id integer NOT NULL,
    bucket timestamptz NOT NULL,
    n integer NOT NULL,
    vmin double precision NOT NULL,
    vmax double precision NOT NULL,
    vsum double precision NOT NULL,
    first_ts timestamptz NOT NULL,
    first_value double precision NOT NULL,
    last_ts timestamptz NOT NULL,
    last_value double precision NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
)"""


def cagg_bucket(lv: Level, col: str, tz: str) -> str:
    if lv.is_day:
        return f"time_bucket(INTERVAL '1 day', {col}, '{tz}')"
    return f"time_bucket(INTERVAL '{lv.interval_sql}', {col}, TIMESTAMPTZ '{ORIGIN}')"


def cagg_sql(lv: Level, *, tz: str) -> list[str]:
    """Statements creating ``lv`` as a (hierarchical) continuous aggregate with a refresh
    policy. Timescale license only; not run in CI (the Apache build has no caggs)."""
    raw = lv.source is None
    src = source_table(lv)
    t = source_time(lv)
    aggs = ",\n       ".join(f"{a[2] if raw else a[4]} AS {a[0]}" for a in AGGREGATES)
    lag = int(lv.refresh_lag.total_seconds())
    start = max(lag * 3, 3 * 86400) if not lv.is_day else 7 * 86400
    return [
        f"""
CREATE MATERIALIZED VIEW {lv.table}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT sensor_id, {cagg_bucket(lv, t, tz)} AS bucket,
       {aggs}
  FROM {src}
 GROUP BY sensor_id, {cagg_bucket(lv, t, tz)}
WITH NO DATA""",
        f"CREATE INDEX ON {lv.table} (sensor_id, bucket)",
        f"SELECT add_continuous_aggregate_policy('{lv.table}', "
        f"start_offset => INTERVAL '{start} seconds', end_offset => INTERVAL '{lag} seconds', "
        f"schedule_interval => INTERVAL '{max(lag // 2, 30)} seconds')",
    ]


def choose_level(span: timedelta, *, max_points: int, raw_interval_s: float = 60.0) -> str:
    """The finest level ("raw" included) whose number of points over ``span`` fits
    ``max_points``; the day level when none does."""
    seconds = max(span.total_seconds(), 0.0)
    if seconds / raw_interval_s <= max_points:
        return "raw"
    for lv in LEVELS:
        if seconds / lv.width.total_seconds() <= max_points:
            return lv.name
    return LEVELS[-1].name
