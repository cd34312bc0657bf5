"""SQL of the sensor registry. Never commits: services own transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from waternet.db.connect import AsyncConnection

SENSOR_COLUMNS = (
    "code",
    "kind",
    "unit",
    "min_value",
    "max_value",
    "node_id",
    "link_id",
    "dma",
    "transport",
    "imei",
    "model",
    "status",
    "lon",
    "lat",
)

UPSERT_SENSOR = f"""
INSERT INTO sensors ({", ".join(SENSOR_COLUMNS)})
VALUES ({", ".join(["%s"] * len(SENSOR_COLUMNS))})
ON CONFLICT (code) DO UPDATE SET
  {", ".join(f"{c} = EXCLUDED.{c}" for c in SENSOR_COLUMNS if c != "code")},
  updated_at = now()
"""


async def upsert_sensors(conn: AsyncConnection, sensors: Sequence[dict[str, Any]]) -> int:
    async with conn.cursor() as cur:
        await cur.executemany(
            UPSERT_SENSOR, [tuple(s.get(c) for c in SENSOR_COLUMNS) for s in sensors]
        )
    return len(sensors)


def unknown_codes(cur: Any, codes: Sequence[str]) -> list[str]:
    cur.execute(
        "SELECT c FROM unnest(%s::text[]) c WHERE NOT EXISTS "
        "(SELECT 1 FROM sensors s WHERE s.code = c) ORDER BY c",
        (list(codes),),
    )
    return [r["c"] if isinstance(r, dict) else r[0] for r in cur.fetchall()]


def replace_boundary_meters(cur: Any, rows: Sequence[tuple[str, str, int]]) -> int:
    """``(dma, sensor code, direction)`` rows: each DMA named gets exactly these meters."""
    cur.execute(
        "DELETE FROM dma_boundary_meters WHERE dma = ANY(%s::text[])",
        (sorted({r[0] for r in rows}),),
    )
    cur.executemany(
        "INSERT INTO dma_boundary_meters (dma, sensor_id, direction) "
        "SELECT %s, id, %s FROM sensors WHERE code = %s",
        [(dma, direction, code) for dma, code, direction in rows],
    )
    return len(rows)


async def list_sensors(
    conn: AsyncConnection, *, kind: str | None, dma: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"""
        SELECT id, {", ".join(SENSOR_COLUMNS)}, created_at, updated_at FROM sensors
         WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
           AND (%(dma)s::text IS NULL OR dma = %(dma)s)
         ORDER BY code LIMIT %(limit)s OFFSET %(offset)s
        """,
        {"kind": kind, "dma": dma, "limit": limit, "offset": offset},
    )
    return list(await cur.fetchall())


async def get_sensor(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT id, {', '.join(SENSOR_COLUMNS)}, created_at, updated_at FROM sensors "
        "WHERE code = %s",
        (code,),
    )
    row = await cur.fetchone()
    return dict(row) if row else None
