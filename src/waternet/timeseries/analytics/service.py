"""Use cases of meter consumption, DMA water balance and minimum night flow: SQL through
``timeseries_repository``, arithmetic in the pure ``consumption`` and ``balance`` modules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from waternet.config import get_settings
from waternet.db.connect import AsyncConnection
from waternet.errors import NotFound, ValidationFailed
from waternet.timeseries import repository as repo
from waternet.timeseries.analytics import balance as bal
from waternet.timeseries.analytics.consumption import (
    Replacement,
    bucket_consumption,
    flag_names,
    register_intervals,
)
from waternet.timeseries.times import EARLIEST, LATEST, check_range, iso, tz


def bucket_edges(start: datetime, end: datetime, step: str) -> list[datetime]:
    """Hour edges (UTC-aligned) or local-day edges covering [start, end)."""
    if step == "hour":
        a = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        n = int(np.ceil((end - a).total_seconds() / 3600.0))
        return [a + timedelta(hours=i) for i in range(max(n, 1) + 1)]
    if step == "day":
        z = tz()
        first = start.astimezone(z).date()
        last = (end - timedelta(microseconds=1)).astimezone(z).date()
        return bal.local_day_edges(first, last, z)
    raise ValidationFailed("bad step", details=[{"field": "step", "problem": "hour or day"}])


def _meter_params(meta: dict[str, Any] | None) -> dict[str, Any]:
    meta = meta or {}
    out: dict[str, Any] = {
        "expected_interval_s": float(meta.get("interval_s") or 3600.0),
    }
    if meta.get("register_capacity"):
        out["capacity"] = float(meta["register_capacity"])
    if meta.get("max_reverse_m3") is not None:
        out["max_reverse_m3"] = float(meta["max_reverse_m3"])
    return out


async def _consumption_matrix(
    conn: AsyncConnection, meters: Sequence[dict[str, Any]], edges: list[datetime]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Per meter x bucket: volume (NaN unknown), estimated, flags."""
    ids = [m["id"] for m in meters]
    e = np.array([t.timestamp() for t in edges])
    vol = np.full((len(ids), len(edges) - 1), np.nan)
    est = np.zeros_like(vol, dtype=bool)
    flags = np.zeros_like(vol, dtype=np.int64)
    if not ids:
        return vol, est, flags, ids
    rows = await repo.register_readings(conn, sensor_ids=ids, start=edges[0], end=edges[-1])
    reps: dict[int, list[Replacement]] = {}
    for r in await repo.replacements(conn, ids):
        reps.setdefault(r["sensor_id"], []).append(
            Replacement(r["replaced_at"].timestamp(), r["old_final_value"], r["new_initial_value"])
        )
    by_id: dict[int, tuple[list[float], list[float]]] = {}
    for r in rows:
        ts_list, v_list = by_id.setdefault(r["sensor_id"], ([], []))
        ts_list.append(r["ts"].timestamp())
        v_list.append(r["value"])
    for i, m in enumerate(meters):
        ts_list, v_list = by_id.get(m["id"], ([], []))
        if len(ts_list) < 2:
            continue
        iv = register_intervals(
            ts_list, v_list, replacements=reps.get(m["id"], ()), **_meter_params(m["meta"])
        )
        bc = bucket_consumption(iv, e)
        vol[i], est[i], flags[i] = bc.volume, bc.estimated, bc.flags
    return vol, est, flags, ids


async def meter_consumption(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    step: str = "day",
    code: str | None = None,
    customer: str | None = None,
) -> dict[str, Any]:
    """Consumption per bucket (m3) of one meter (``code``) or of a customer's meters."""
    check_range(start, end, max_days=31 if step == "hour" else 732)
    meters = await repo.meters(conn, code=code, customer=customer)
    if not meters:
        raise NotFound("no such meter" if code else f"no meters for customer {customer!r}")
    edges = bucket_edges(start, end, step)
    vol, est, flags, _ = await _consumption_matrix(conn, meters, edges)
    total = np.nansum(vol, axis=0)
    known = (~np.isnan(vol)).any(axis=0)
    out = []
    for k in range(len(edges) - 1):
        fl = int(np.bitwise_or.reduce(flags[:, k]))
        out.append(
            {
                "from": iso(edges[k]),
                "to": iso(edges[k + 1]),
                "volume_m3": float(total[k]) if known[k] else None,
                "estimated": bool(est[:, k].any()),
                "flags": flag_names(fl),
            }
        )
    return {"meters": [m["code"] for m in meters], "step": step, "buckets": out}


async def dma_balance(
    conn: AsyncConnection, *, dma: str, start: datetime, end: datetime, step: str = "hour"
) -> dict[str, Any]:
    check_range(start, end, max_days=31 if step == "hour" else 366)
    edges = bucket_edges(start, end, step)
    boundary = await repo.boundary_meters(conn, dma)
    if not boundary:
        raise NotFound(f"DMA {dma!r} has no boundary flow meters")
    level = "1h" if step == "hour" else "1d"
    sids = [b["sensor_id"] for b in boundary]
    direction = {b["sensor_id"]: float(b["direction"]) for b in boundary}
    rows = await repo.rollup_means(
        conn, level=level, sensor_ids=sids, start=edges[0], end=edges[-1]
    )
    index = {t: i for i, t in enumerate(edges[:-1])}
    bi, si, mean, dirs = [], [], [], []
    for r in rows:
        k = index.get(r["bucket"])
        if k is None:
            continue
        bi.append(k)
        si.append(r["sensor_id"])
        mean.append(r["mean"])
        dirs.append(direction[r["sensor_id"]])
    nb = len(edges) - 1
    net = bal.net_inflow(
        np.array(bi, dtype=np.int64),
        np.array(si, dtype=np.int64),
        np.array(mean, dtype=np.float64),
        np.array(dirs, dtype=np.float64),
        n_buckets=nb,
        n_sensors=len(sids),
    )
    seconds = np.array([(edges[k + 1] - edges[k]).total_seconds() for k in range(nb)])
    inflow = bal.flow_volume_m3(net, seconds)
    meters = await repo.meters(conn, dma=dma)
    vol, est, _flags, _ = await _consumption_matrix(conn, meters, edges)
    cons = np.nansum(vol, axis=0) if meters else np.zeros(nb)
    reporting = (~np.isnan(vol)).sum(axis=0) if meters else np.zeros(nb, dtype=np.int64)
    cons_est = np.asarray(est.any(axis=0) if meters else np.zeros(nb), dtype=bool)
    b = bal.water_balance(inflow, cons, cons_est)

    def num(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return {
        "dma": dma,
        "step": step,
        "boundary_meters": [x["code"] for x in boundary],
        "customer_meters": len(meters),
        "buckets": [
            {
                "from": iso(edges[k]),
                "to": iso(edges[k + 1]),
                "inflow_m3": num(b.inflow_m3[k]),
                "consumption_m3": float(b.consumption_m3[k]),
                "loss_m3": num(b.loss_m3[k]),
                "loss_share": num(b.loss_share[k]),
                "consumption_estimated": bool(b.estimated[k]),
                "meters_reporting": int(reporting[k]),
            }
            for k in range(nb)
        ],
    }


async def night_flow(
    conn: AsyncConnection, *, dma: str, first: date, last: date, window: int = 7
) -> dict[str, Any]:
    if (
        last < first
        or (last - first).days > 3660
        or first < EARLIEST.date()
        or last >= LATEST.date()
    ):
        raise ValidationFailed(
            "bad day range",
            details=[{"field": "to", "problem": "0 to 3660 days after from, 1900-2200"}],
        )
    boundary = await repo.boundary_meters(conn, dma)
    if not boundary:
        raise NotFound(f"DMA {dma!r} has no boundary flow meters")
    rows = await repo.night_net_flow(
        conn,
        sensor_ids=[b["sensor_id"] for b in boundary],
        directions=[b["direction"] for b in boundary],
        first=first,
        last=last,
        tz=get_settings().timezone,
    )
    buckets = [r["bucket"] for r in rows]
    net = np.array(
        [r["net"] if r["meters"] == len(boundary) else np.nan for r in rows], dtype=np.float64
    )
    nf = bal.minimum_night_flow(buckets, net, tz=tz(), window=window)

    def num(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return {
        "dma": dma,
        "unit": "L/s",
        "window": f"{bal.NIGHT_START_H:02d}:00-{bal.NIGHT_END_H:02d}:00 local",
        "trend_lps_per_day": nf.slope_lps_per_day,
        "days": [
            {
                "day": d.isoformat(),
                "mnf_lps": num(nf.mnf_lps[i]),
                "mean_lps": num(nf.mean_lps[i]),
                "moving_mnf_lps": num(nf.moving_lps[i]),
            }
            for i, d in enumerate(nf.days)
        ],
    }
