"""Test helpers: write readings the way the ingest writer does, and reference aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from waternet.timeseries import rollups

Row = tuple[int, datetime, float, int]
STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
    sensor_id integer NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL,
    quality smallint NOT NULL
) ON COMMIT DELETE ROWS
"""


def write_batch(conn: psycopg.Connection[Any], rows: Sequence[Row]) -> None:
    """Stage by binary COPY, insert into readings, mark dirty: one transaction (the writer's
    contract with rollups.mark_dirty)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(STAGE)
        with cur.copy(
            "COPY ingest_stage (sensor_id, ts, value, quality) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "timestamptz", "float8", "int2"])
            for r in rows:
                copy.write_row(r)
        cur.execute(
            "INSERT INTO readings (sensor_id, ts, value, quality) "
            "SELECT sensor_id, ts, value, quality FROM ingest_stage "
            "ON CONFLICT (sensor_id, ts) DO NOTHING"
        )
        rollups.mark_dirty(cur)


def add_sensor(
    conn: psycopg.Connection[Any],
    code: str,
    kind: str,
    *,
    dma: str | None = None,
    meta: str = "{}",
    lon: float | None = None,
    lat: float | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO sensors (code, kind, unit, dma, meta, lon, lat) "
        "VALUES (%s, %s, 'x', %s, %s::jsonb, %s, %s) RETURNING id",
        (code, kind, dma, meta, lon, lat),
    ).fetchone()
    assert row is not None
    return int(row[0])


def bucket_of(level: str, t: datetime, tz: ZoneInfo) -> datetime:
    """Independent (Python) bucket: UTC-aligned widths, local days for 1d."""
    if level == "1d":
        local = t.astimezone(tz)
        return datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)
    width = {"1m": 60, "15m": 900, "1h": 3600}[level]
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, UTC)


def reference(rows: Iterable[Row], level: str, tz: ZoneInfo) -> dict[tuple[int, datetime], tuple]:
    groups: dict[tuple[int, datetime], list[tuple[datetime, float]]] = defaultdict(list)
    for sid, ts, v, _q in rows:
        groups[(sid, bucket_of(level, ts, tz))].append((ts, v))
    out = {}
    for key, pts in groups.items():
        pts.sort()
        vals = [p[1] for p in pts]
        out[key] = (
            len(vals),
            min(vals),
            max(vals),
            sum(vals),
            pts[0][0],
            vals[0],
            pts[-1][0],
            vals[-1],
        )
    return out


def stored(conn: psycopg.Connection[Any], table: str) -> dict[tuple[int, datetime], tuple]:
    rows = conn.execute(
        f"SELECT sensor_id, bucket, n, vmin, vmax, vsum, first_ts, first_value, last_ts, "
        f"last_value FROM {table}"
    ).fetchall()
    return {(r[0], r[1].astimezone(UTC)): tuple(r[2:]) for r in rows}


def assert_same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert g[0] == w[0], key
        assert g[1] == w[1] and g[2] == w[2], key
        assert abs(g[3] - w[3]) <= 1e-9 * max(1.0, abs(w[3])), key
        assert g[4] == w[4] and g[5] == w[5] and g[6] == w[6] and g[7] == w[7], key


def day_start_utc(days_ago: int, tz: ZoneInfo) -> datetime:
    today = datetime.now(tz).date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, tzinfo=tz)
