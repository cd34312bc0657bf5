"""SQL of the time-series store (async psycopg, dict rows). Never commits: services own
transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from waternet.db.connect import AsyncConnection
from waternet.timeseries.levels import BY_NAME

SENSOR_SQL = """
SELECT id, code, kind, unit, dma, node_id, link_id, lon, lat, status, model, meta
  FROM sensors WHERE code = %s
"""


async def _no_jit(conn: AsyncConnection) -> None:
    """For the transaction: no JIT (its compilation, hundreds of ms, kicks in on the planner's
    overestimates of these short analytic queries) and a plan made for the actual parameters
    every time (a cached generic plan cannot exclude chunks or use the array sizes)."""
    await conn.execute("SET LOCAL jit = off")
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")


async def get_sensor(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    cur = await conn.execute(SENSOR_SQL, (code,))
    row = await cur.fetchone()
    return dict(row) if row else None


def series_sql(level: str) -> str:
    if level == "raw":
        return (
            "SELECT ts, value, quality FROM readings WHERE sensor_id = %(sid)s "
            "AND ts >= %(start)s AND ts < %(end)s ORDER BY ts LIMIT %(limit)s"
        )
    lv = BY_NAME[level]
    return (
        "SELECT bucket AS ts, n, vmin, vmax, vsum / n AS mean, first_value, last_value, "
        f"first_ts, last_ts FROM {lv.table} WHERE sensor_id = %(sid)s "
        "AND bucket >= %(start)s AND bucket < %(end)s ORDER BY bucket LIMIT %(limit)s"
    )


async def series(
    conn: AsyncConnection, *, level: str, sensor_id: int, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        series_sql(level), {"sid": sensor_id, "start": start, "end": end, "limit": limit}
    )
    return list(await cur.fetchall())


async def stream_series(
    conn: AsyncConnection,
    *,
    level: str,
    sensor_id: int,
    start: datetime,
    end: datetime,
    chunk: int = 5000,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Rows in chunks through a server-side cursor (inside the caller's transaction)."""
    sql = series_sql(level).replace(" LIMIT %(limit)s", "")
    async with conn.cursor(name="waternet_export") as cur:
        await cur.execute(sql, {"sid": sensor_id, "start": start, "end": end})
        while True:
            rows = await cur.fetchmany(chunk)
            if not rows:
                return
            yield list(rows)


async def latest_json(
    conn: AsyncConnection,
    *,
    bbox: tuple[float, float, float, float] | None,
    dma: str | None,
    kinds: Sequence[str] | None,
    limit: int,
    tz: str,
) -> tuple[int, str]:
    """(count, JSON array text) of the latest values, built by the server: 10,000 sensors come
    back as one value, with no per-row decoding in Python. Sensor id order; times rendered with
    the offset of ``tz``."""
    lon0, lat0, lon1, lat1 = bbox if bbox else (None, None, None, None)
    await conn.execute("SELECT set_config('TimeZone', %s, true)", (tz,))
    cur = await conn.execute(
        """
        SELECT count(*) AS n, coalesce(json_agg(x), '[]')::text AS doc
          FROM (SELECT s.code, s.kind, s.dma, s.lon, s.lat, l.ts, l.value, l.quality, s.unit
                  FROM latest_readings l JOIN sensors s ON s.id = l.sensor_id
                 WHERE (%(dma)s::text IS NULL OR s.dma = %(dma)s)
                   AND (%(kinds)s::text[] IS NULL OR s.kind = ANY(%(kinds)s::text[]))
                   AND (%(lon0)s::float8 IS NULL OR (s.lon BETWEEN %(lon0)s AND %(lon1)s
                        AND s.lat BETWEEN %(lat0)s AND %(lat1)s))
                 ORDER BY l.sensor_id LIMIT %(limit)s) x
        """,
        {
            "dma": dma,
            "kinds": list(kinds) if kinds else None,
            "lon0": lon0,
            "lat0": lat0,
            "lon1": lon1,
            "lat1": lat1,
            "limit": limit,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return 0, "[]"
    n, doc = (row["n"], row["doc"]) if isinstance(row, dict) else (row[0], row[1])
    return int(n), str(doc)


async def boundary_meters(conn: AsyncConnection, dma: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT b.sensor_id, b.direction, s.code FROM dma_boundary_meters b "
        "JOIN sensors s ON s.id = b.sensor_id WHERE b.dma = %s ORDER BY b.sensor_id",
        (dma,),
    )
    return list(await cur.fetchall())


async def rollup_means(
    conn: AsyncConnection, *, level: str, sensor_ids: Sequence[int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    lv = BY_NAME[level]
    cur = await conn.execute(
        f"SELECT sensor_id, bucket, n, vsum / n AS mean FROM {lv.table} "
        "WHERE sensor_id = ANY(%s::int[]) AND bucket >= %s AND bucket < %s "
        "ORDER BY bucket, sensor_id",
        (list(sensor_ids), start, end),
    )
    return list(await cur.fetchall())


async def night_net_flow(
    conn: AsyncConnection,
    *,
    sensor_ids: Sequence[int],
    directions: Sequence[int],
    first: date,
    last: date,
    tz: str,
) -> list[dict[str, Any]]:
    """Net inflow (L/s: direction x 15-minute mean, summed over the boundary meters) per
    15-minute bucket of each local night window (02:00-04:00), with the number of meters that
    reported. The days are a materialized CTE so that the plan probes the index once per day
    (with the planner left free it may scan a year of the meters' rows per day)."""
    await _no_jit(conn)
    cur = await conn.execute(
        """
        WITH days AS MATERIALIZED (
            SELECT (d + interval '2 hours') AT TIME ZONE %(tz)s AS w0,
                   (d + interval '4 hours') AT TIME ZONE %(tz)s AS w1
              FROM generate_series(%(first)s::timestamp, %(last)s::timestamp, interval '1 day') d
        )
        SELECT r.bucket, count(*) AS meters,
               sum((%(dirs)s::int[])[array_position(%(ids)s::int[], r.sensor_id)]
                   * r.vsum / r.n) AS net
          FROM days
          JOIN readings_15m r
            ON r.sensor_id = ANY(%(ids)s::int[]) AND r.bucket >= days.w0 AND r.bucket < days.w1
         GROUP BY r.bucket ORDER BY r.bucket
        """,
        {
            "ids": list(sensor_ids),
            "dirs": list(directions),
            "first": first,
            "last": last,
            "tz": tz,
        },
    )
    return list(await cur.fetchall())


async def meters(
    conn: AsyncConnection,
    *,
    dma: str | None = None,
    customer: str | None = None,
    code: str | None = None,
) -> list[dict[str, Any]]:
    """Customer meter registers (kind MT / meter_register), boundary meters excluded."""
    cur = await conn.execute(
        """
        SELECT s.id, s.code, s.meta FROM sensors s
         WHERE s.kind IN ('MT', 'meter_register')
           AND (%(dma)s::text IS NULL OR s.dma = %(dma)s)
           AND (%(customer)s::text IS NULL OR s.meta->>'customer' = %(customer)s)
           AND (%(code)s::text IS NULL OR s.code = %(code)s)
           AND NOT EXISTS (SELECT 1 FROM dma_boundary_meters b WHERE b.sensor_id = s.id)
         ORDER BY s.id
        """,
        {"dma": dma, "customer": customer, "code": code},
    )
    return list(await cur.fetchall())


async def register_readings(
    conn: AsyncConnection, *, sensor_ids: Sequence[int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Register readings in [start, end] plus the last before and the first after, per meter
    (so that buckets at the edges and gaps across them are computed exactly)."""
    await _no_jit(conn)
    cur = await conn.execute(
        """
        SELECT sensor_id, ts, value FROM readings
         WHERE sensor_id = ANY(%(ids)s::int[]) AND ts >= %(start)s AND ts <= %(end)s
        UNION ALL
        SELECT i.id, p.ts, p.value FROM unnest(%(ids)s::int[]) AS i(id)
          CROSS JOIN LATERAL (SELECT ts, value FROM readings r WHERE r.sensor_id = i.id
                               AND r.ts < %(start)s ORDER BY ts DESC LIMIT 1) p
        UNION ALL
        SELECT i.id, n.ts, n.value FROM unnest(%(ids)s::int[]) AS i(id)
          CROSS JOIN LATERAL (SELECT ts, value FROM readings r WHERE r.sensor_id = i.id
                               AND r.ts > %(end)s ORDER BY ts LIMIT 1) n
        ORDER BY 1, 2
        """,
        {"ids": list(sensor_ids), "start": start, "end": end},
    )
    return list(await cur.fetchall())


async def replacements(conn: AsyncConnection, sensor_ids: Sequence[int]) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT sensor_id, replaced_at, old_final_value, new_initial_value "
        "FROM meter_replacements WHERE sensor_id = ANY(%s::int[]) ORDER BY sensor_id, replaced_at",
        (list(sensor_ids),),
    )
    return list(await cur.fetchall())


async def quality_rows(
    conn: AsyncConnection,
    *,
    dma: str | None,
    kinds: Sequence[str] | None,
    start: datetime,
    end: datetime,
    flat_start: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """Per sensor: readings counted from the 15-minute rollups over [start, end), count/min/max
    over [flat_start, end), and last seen from the latest values."""
    await _no_jit(conn)
    cur = await conn.execute(
        """
        SELECT s.code, s.kind, s.meta, l.ts AS last_seen, l.received_at AS last_received,
               coalesce(w.received, 0) AS received, coalesce(f.n, 0) AS flat_n,
               f.vmin AS flat_min, f.vmax AS flat_max
          FROM sensors s
          LEFT JOIN latest_readings l ON l.sensor_id = s.id
          LEFT JOIN LATERAL (SELECT sum(n) AS received FROM readings_15m r
                              WHERE r.sensor_id = s.id AND r.bucket >= %(start)s
                                AND r.bucket < %(end)s) w ON true
          LEFT JOIN LATERAL (SELECT sum(n) AS n, min(vmin) AS vmin, max(vmax) AS vmax
                               FROM readings_15m r
                              WHERE r.sensor_id = s.id AND r.bucket >= %(flat)s
                                AND r.bucket < %(end)s) f ON true
         WHERE s.status <> 'retired'
           AND (%(dma)s::text IS NULL OR s.dma = %(dma)s)
           AND (%(kinds)s::text[] IS NULL OR s.kind = ANY(%(kinds)s::text[]))
         ORDER BY s.code LIMIT %(limit)s
        """,
        {
            "dma": dma,
            "kinds": list(kinds) if kinds else None,
            "start": start,
            "end": end,
            "flat": flat_start,
            "limit": limit,
        },
    )
    return list(await cur.fetchall())
