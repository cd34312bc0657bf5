"""SQL of the ingest path (readings, latest values, quarantine). Never commits: callers own
transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from waternet.db.connect import AsyncConnection
from waternet.ingest.pipeline import QuarantineRow, Row

if TYPE_CHECKING:
    import psycopg

REGISTRY_SQL = """
SELECT id, code, kind, unit, min_value, max_value, status, transport, imei, model
  FROM sensors
"""
"""The sensor registry as the ingest hot path needs it (``ingest.registry.Registry``)."""

STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
    sensor_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL
) ON COMMIT DELETE ROWS
"""
STAGE_COPY = "COPY ingest_stage (sensor_id, ts, value, quality) FROM STDIN (FORMAT BINARY)"
STAGE_TYPES = ["int4", "timestamptz", "float8", "int2"]

INSERT_READINGS = """
INSERT INTO readings (sensor_id, ts, value, quality)
SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, value, quality
  FROM ingest_stage ORDER BY sensor_id, ts
ON CONFLICT (sensor_id, ts) DO NOTHING
"""

LATEST_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS latest_stage (
    sensor_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL
) ON COMMIT DELETE ROWS
"""
LATEST_COPY = "COPY latest_stage (sensor_id, ts, value, quality) FROM STDIN (FORMAT BINARY)"

UPSERT_LATEST = """
INSERT INTO latest_readings AS l (sensor_id, ts, value, quality, received_at)
SELECT sensor_id, ts, value, quality, now() FROM latest_stage ORDER BY sensor_id
ON CONFLICT (sensor_id) DO UPDATE
   SET ts = EXCLUDED.ts, value = EXCLUDED.value, quality = EXCLUDED.quality,
       received_at = EXCLUDED.received_at
 WHERE l.ts < EXCLUDED.ts
"""

INSERT_QUARANTINE = """
INSERT INTO quarantine
    (received_at, source, reason, sensor_code, topic, detail, payload, payload_size, fingerprint)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (fingerprint) DO NOTHING
"""


def write_rows(cur: psycopg.Cursor[Any], rows: Sequence[Row]) -> int:
    """Stage rows by binary COPY and insert the new ones; returns how many were new."""
    if not rows:
        return 0
    cur.execute(STAGE_DDL)
    with cur.copy(STAGE_COPY) as copy:
        copy.set_types(STAGE_TYPES)
        for row in rows:
            copy.write_row(row)
    cur.execute(INSERT_READINGS)
    return int(cur.rowcount)


def upsert_latest(cur: psycopg.Cursor[Any], latest: Sequence[Row]) -> None:
    """Latest value per sensor by reading time (one row per sensor; older values never win)."""
    if not latest:
        return
    cur.execute(LATEST_STAGE_DDL)
    with cur.copy(LATEST_COPY) as copy:
        copy.set_types(STAGE_TYPES)
        for row in latest:
            copy.write_row(row)
    cur.execute(UPSERT_LATEST)


def write_quarantine(cur: psycopg.Cursor[Any], rows: Sequence[QuarantineRow]) -> int:
    """Insert quarantine entries (a redelivered message is not quarantined twice)."""
    if not rows:
        return 0
    n = 0
    for q in rows:
        cur.execute(
            INSERT_QUARANTINE,
            (
                q.received_at,
                q.source,
                q.reason,
                q.sensor_code,
                q.topic,
                q.detail,
                q.payload,
                q.payload_size,
                q.fingerprint,
            ),
        )
        n += cur.rowcount
    return n


def ensure_partitions(cur: psycopg.Cursor[Any], first: date, last: date) -> None:
    cur.execute("SELECT waternet_ensure_partitions('readings', %s, %s)", (first, last))


def storage_mode(cur: psycopg.Cursor[Any]) -> str:
    cur.execute("SELECT value #>> '{}' FROM waternet_meta WHERE key = 'storage_mode'")
    row = cur.fetchone()
    if row is None:
        return "postgres"
    return str(row[0] if not isinstance(row, dict) else next(iter(row.values())))


async def quarantine_summary(conn: AsyncConnection) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT reason, source, count(*) AS n, max(received_at) AS last_at "
        "FROM quarantine GROUP BY reason, source ORDER BY n DESC"
    )
    return list(await cur.fetchall())
