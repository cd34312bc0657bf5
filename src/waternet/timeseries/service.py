"""Use cases of the time-series store: series with automatic level choice, CSV export, latest
values, meter consumption, DMA balance and night flow, data quality.

Every public function takes an async connection (the caller's) and aware datetimes; results
carry ISO-8601 times in the utility's zone (``get_settings().timezone``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from waternet.config import get_settings
from waternet.db.connect import AsyncConnection
from waternet.errors import NotFound, ValidationFailed
from waternet.sensors.codes import KINDS
from waternet.timeseries import repository as repo
from waternet.timeseries.analytics import quality as qual
from waternet.timeseries.levels import BY_NAME, choose_level
from waternet.timeseries.times import check_range, iso

LEVEL_CHOICES = ("raw", *BY_NAME)
DEFAULT_MAX_POINTS = 2000
HARD_MAX_POINTS = 20000


def kind_filter(kind: str | None) -> list[str] | None:
    """Accept a kind as its code (``PT``) or name (``pressure``); match both spellings."""
    if kind is None:
        return None
    names = {v: k for k, v in KINDS.items()}
    code = kind if kind in KINDS else names.get(kind)
    if code is None:
        raise ValidationFailed(
            "unknown sensor kind", details=[{"field": "kind", "problem": f"unknown {kind!r}"}]
        )
    return [code, KINDS[code]]


async def sensor_or_404(conn: AsyncConnection, code: str) -> dict[str, Any]:
    sensor = await repo.get_sensor(conn, code)
    if sensor is None:
        raise NotFound(f"no sensor {code!r}")
    return sensor


def _point(level: str, r: dict[str, Any]) -> dict[str, Any]:
    if level == "raw":
        return {"ts": iso(r["ts"]), "value": r["value"], "quality": r["quality"]}
    return {
        "ts": iso(r["ts"]),
        "mean": r["mean"],
        "min": r["vmin"],
        "max": r["vmax"],
        "count": r["n"],
        "first": r["first_value"],
        "last": r["last_value"],
        "first_ts": iso(r["first_ts"]),
        "last_ts": iso(r["last_ts"]),
    }


def pick_level(start: datetime, end: datetime, bucket: str | None, max_points: int) -> str:
    if bucket is None:
        return choose_level(end - start, max_points=max_points)
    if bucket not in LEVEL_CHOICES:
        raise ValidationFailed(
            "unknown bucket",
            details=[{"field": "bucket", "problem": f"one of {', '.join(LEVEL_CHOICES)}"}],
        )
    return bucket


async def readings(
    conn: AsyncConnection,
    *,
    code: str,
    start: datetime,
    end: datetime,
    bucket: str | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> dict[str, Any]:
    check_range(start, end)
    max_points = max(1, min(max_points, HARD_MAX_POINTS))
    sensor = await sensor_or_404(conn, code)
    level = pick_level(start, end, bucket, max_points)
    rows = await repo.series(
        conn, level=level, sensor_id=sensor["id"], start=start, end=end, limit=max_points + 1
    )
    truncated = len(rows) > max_points
    rows = rows[:max_points]
    return {
        "sensor": code,
        "unit": sensor["unit"],
        "level": level,
        "from": iso(start),
        "to": iso(end),
        "truncated": truncated,
        "next_from": iso(rows[-1]["ts"] + timedelta(microseconds=1)) if truncated else None,
        "points": [_point(level, r) for r in rows],
    }


async def export_csv(
    conn: AsyncConnection, *, code: str, start: datetime, end: datetime, bucket: str | None
) -> AsyncIterator[str]:
    """CSV text in chunks (a header first); the rows come from a server-side cursor."""
    check_range(start, end)
    sensor = await sensor_or_404(conn, code)
    level = pick_level(start, end, bucket, HARD_MAX_POINTS) if bucket else "raw"
    cols = (
        ["ts", "value", "quality"]
        if level == "raw"
        else ["ts", "mean", "min", "max", "count", "first", "last"]
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    yield buf.getvalue()
    async for chunk in repo.stream_series(
        conn, level=level, sensor_id=sensor["id"], start=start, end=end
    ):
        buf.seek(0)
        buf.truncate()
        for r in chunk:
            p = _point(level, r)
            writer.writerow([p[c] for c in cols])
        yield buf.getvalue()


async def latest_values_json(
    conn: AsyncConnection,
    *,
    bbox: tuple[float, float, float, float] | None,
    dma: str | None,
    kind: str | None,
    limit: int = 20000,
) -> str:
    """``{"count": n, "sensors": [...]}`` as JSON text (built by the database). Each sensor:
    code, kind, dma, lon, lat (WGS84, as registered; null when none), ts, value, quality and
    unit."""
    count, doc = await repo.latest_json(
        conn,
        bbox=bbox,
        dma=dma,
        kinds=kind_filter(kind),
        limit=limit,
        tz=get_settings().timezone,
    )
    return f'{{"count": {count}, "sensors": {doc}}}'


async def quality_report(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    dma: str | None = None,
    kind: str | None = None,
    limit: int = 20000,
    now: datetime | None = None,
) -> dict[str, Any]:
    check_range(start, end, max_days=31)
    flat_start = max(start, end - qual.FLAT_WINDOW)
    rows = await repo.quality_rows(
        conn,
        dma=dma,
        kinds=kind_filter(kind),
        start=start,
        end=end,
        flat_start=flat_start,
        limit=limit,
    )
    now = now or datetime.now(UTC)
    window_s = (end - start).total_seconds()
    sensors = []
    for r in rows:
        q = qual.assess(
            code=r["code"],
            kind=r["kind"],
            meta=r["meta"],
            window_s=window_s,
            received=int(r["received"]),
            flat_count=int(r["flat_n"]),
            flat_min=r["flat_min"],
            flat_max=r["flat_max"],
            last_seen=r["last_seen"],
            last_received=r["last_received"],
            now=now,
        )
        sensors.append(
            {
                "code": q.code,
                "kind": q.kind,
                "received": q.received,
                "expected_interval_s": q.expected_interval_s,
                "completeness": round(q.completeness, 4),
                "stuck": q.stuck,
                "flatline": q.flatline,
                "last_seen": iso(q.last_seen),
                "last_received": iso(q.last_received),
                "silent_for_s": q.silent_for_s,
                "issues": q.issues,
            }
        )
    return {
        "from": iso(start),
        "to": iso(end),
        "flat_window_from": iso(flat_start),
        "sensors": sensors,
        "summary": {
            "sensors": len(sensors),
            "with_issues": sum(1 for s in sensors if s["issues"]),
        },
    }
