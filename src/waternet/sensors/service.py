"""Use cases of the sensor registry: validation of sensor records (every problem listed),
all-or-nothing registration, and look-ups."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import psycopg

from waternet.db.connect import AsyncConnection
from waternet.errors import NotFound, ValidationFailed
from waternet.sensors import codes, repository
from waternet.sensors.catalogue import default as default_catalogue
from waternet.sensors.models import STATUSES, TRANSPORTS


def check_sensor(raw: dict[str, Any], where: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Normalise one sensor record; returns (record, problems)."""
    problems: list[str] = []
    code = str(raw.get("code") or "").strip()
    if not codes.is_valid(code):
        problems.append(f"{where}: bad sensor code {code!r} (scheme KIND-ZONE-NNNNNN)")
        return None, problems
    cat = default_catalogue()
    kind_code = code[:2]
    try:
        kind = cat.kind(kind_code)
    except KeyError:
        problems.append(f"{where}: unknown kind {kind_code!r}")
        return None, problems
    unit = str(raw.get("unit") or kind.unit)
    if unit != kind.unit:
        problems.append(f"{where}: unit {unit!r} is not the canonical unit {kind.unit!r}")

    def num(name: str, default: float | None) -> float | None:
        v = raw.get(name)
        if v in (None, ""):
            return default
        try:
            return float(v)  # type: ignore[arg-type,unused-ignore]
        except (TypeError, ValueError):
            problems.append(f"{where}: {name} must be a number")
            return None

    lo, hi = num("min_value", kind.min), num("max_value", kind.max)
    if lo is not None and hi is not None and lo > hi:
        problems.append(f"{where}: min_value > max_value")
    transport = str(raw.get("transport") or ("nbiot" if raw.get("imei") else "mqtt"))
    if transport not in TRANSPORTS:
        problems.append(f"{where}: transport must be one of {', '.join(TRANSPORTS)}")
    status = str(raw.get("status") or "active")
    if status not in STATUSES:
        problems.append(f"{where}: status must be one of {', '.join(STATUSES)}")
    lon, lat = num("lon", None), num("lat", None)
    if lon is not None and not -180 <= lon <= 180:
        problems.append(f"{where}: lon must be within -180..180")
    if lat is not None and not -90 <= lat <= 90:
        problems.append(f"{where}: lat must be within -90..90")
    rec = {
        "code": code,
        "kind": kind_code,
        "unit": unit,
        "min_value": lo,
        "max_value": hi,
        "node_id": raw.get("node_id") or None,
        "link_id": raw.get("link_id") or None,
        "dma": raw.get("dma") or None,
        "transport": transport,
        "imei": (str(raw["imei"]).strip() or None) if raw.get("imei") else None,
        "model": raw.get("model") or None,
        "status": status,
        "lon": lon,
        "lat": lat,
    }
    return (None if problems else rec), problems


def check_sensors(records: list[dict[str, Any]], *, first_line: int = 2) -> list[dict[str, Any]]:
    """Validate every record; raise ValidationFailed listing every problem."""
    out, problems, seen, imeis = [], [], set(), set()
    for i, raw in enumerate(records):
        where = f"line {first_line + i}"
        rec, probs = check_sensor(raw, where)
        problems += probs
        if rec is None:
            continue
        if rec["code"] in seen:
            problems.append(f"{where}: duplicate code {rec['code']}")
        if rec["imei"] and rec["imei"] in imeis:
            problems.append(f"{where}: duplicate imei {rec['imei']}")
        seen.add(rec["code"])
        if rec["imei"]:
            imeis.add(rec["imei"])
        out.append(rec)
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in sensor data", details=problems)
    return out


def parse_sensor_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        if not reader.fieldnames or "code" not in reader.fieldnames:
            raise ValidationFailed("sensor CSV needs a header with at least a 'code' column")
        return [dict(r) for r in reader]
    except csv.Error as exc:
        raise ValidationFailed(f"malformed CSV at line {reader.line_num}: {exc}") from None


async def aregister_sensors(*, conn: AsyncConnection, records: list[dict[str, Any]]) -> int:
    """All-or-nothing bulk registration (upsert by code); the records are checked in a worker
    thread (up to 100,000 of them)."""
    sensors = await asyncio.to_thread(check_sensors, records)
    try:
        async with conn.transaction():
            return await repository.upsert_sensors(conn, sensors)
    except psycopg.errors.UniqueViolation as exc:
        raise ValidationFailed(
            "sensor data conflicts with registered sensors",
            details=[str(exc).splitlines()[0]],
        ) from None


def register_sensors(url: str, records: list[dict[str, Any]]) -> int:
    """:func:`aregister_sensors` on a short-lived connection (CLI, demo, tests)."""
    from waternet.db.aconnect import aconnect

    async def main() -> int:
        async with aconnect(url) as conn:
            return await aregister_sensors(conn=conn, records=records)

    return asyncio.run(main())


def register_boundary_meters(url: str, rows: list[tuple[str, str, int]]) -> int:
    """Set the boundary flow meters of DMAs (what a DMA water balance sums): ``(dma, sensor
    code, direction)`` with direction 1 when positive flow enters the DMA, -1 when it leaves.
    The DMAs named lose their other boundary meters; the sensors must be registered."""
    bad = [f"DMA {d!r}: direction must be 1 or -1" for d, _c, x in rows if x not in (1, -1)]
    with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        bad += [
            f"unknown sensor {c!r}"
            for c in repository.unknown_codes(cur, sorted({c for _d, c, _x in rows}))
        ]
        if bad:
            raise ValidationFailed("bad boundary meters", details=bad)
        return repository.replace_boundary_meters(cur, rows)


async def list_sensors(
    *, conn: AsyncConnection, kind: str | None, dma: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    return await repository.list_sensors(conn, kind=kind, dma=dma, limit=limit, offset=offset)


async def get_sensor(*, conn: AsyncConnection, code: str) -> dict[str, Any]:
    row = await repository.get_sensor(conn, code)
    if row is None:
        raise NotFound(f"no sensor {code!r}")
    return row
