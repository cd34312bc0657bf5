"""DMA water balance and minimum night flow (pure NumPy).

* Inflow of a DMA over a bucket: the sum over its boundary flow meters of ``direction x mean
  flow (L/s) x bucket seconds / 1000`` (m3). A bucket where a boundary meter has no reading is
  incomplete (its inflow is not reported as a number).
* Balance: ``loss = inflow - customer consumption`` (m3), flagged estimated when consumption is.
* Minimum night flow (MNF): per local day, the minimum of the net inflow (L/s) over the
  15-minute buckets starting in ``[02:00, 04:00)`` local time; the trend is the least-squares
  slope (L/s per day) and a centred moving mean over ``window`` days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]
NIGHT_START_H = 2
NIGHT_END_H = 4


def flow_volume_m3(mean_lps: Float, seconds: Float | float) -> Float:
    """Volume (m3) of a mean flow (L/s) held for ``seconds``."""
    return np.asarray(mean_lps, dtype=np.float64) * np.asarray(seconds, dtype=np.float64) / 1000.0


@dataclass(frozen=True, slots=True)
class Balance:
    inflow_m3: Float  # NaN where incomplete
    consumption_m3: Float
    loss_m3: Float
    loss_share: Float  # loss / inflow
    estimated: NDArray[np.bool_]


def water_balance(
    inflow_m3: Float, consumption_m3: Float, consumption_estimated: NDArray[np.bool_]
) -> Balance:
    inflow = np.asarray(inflow_m3, dtype=np.float64)
    cons = np.nan_to_num(np.asarray(consumption_m3, dtype=np.float64), nan=0.0)
    loss = inflow - cons
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(inflow > 0, loss / inflow, np.nan)
    return Balance(inflow, cons, loss, share, np.asarray(consumption_estimated, dtype=bool))


def net_inflow(
    bucket_index: NDArray[np.int64],
    sensor_index: NDArray[np.int64],
    mean_lps: Float,
    direction: Float,
    *,
    n_buckets: int,
    n_sensors: int,
) -> Float:
    """Net inflow (L/s) per bucket from (bucket, sensor, mean) rows; NaN where any of the
    ``n_sensors`` boundary meters is missing."""
    net = np.zeros(n_buckets)
    seen = np.zeros(n_buckets, dtype=np.int64)
    np.add.at(net, bucket_index, mean_lps * direction)
    np.add.at(seen, bucket_index, 1)
    return np.where(seen == n_sensors, net, np.nan)


def is_night(bucket_starts: list[datetime], tz: ZoneInfo) -> NDArray[np.bool_]:
    hours = np.array([b.astimezone(tz).hour for b in bucket_starts], dtype=np.int64)
    return (hours >= NIGHT_START_H) & (hours < NIGHT_END_H)


@dataclass(frozen=True, slots=True)
class NightFlow:
    days: list[date]
    mnf_lps: Float  # NaN when no complete night bucket
    mean_lps: Float  # mean net inflow over the window
    moving_lps: Float  # centred moving mean of mnf over `window` days (ignoring NaN)
    slope_lps_per_day: float | None  # least-squares slope over the days with a value


def minimum_night_flow(
    bucket_starts: list[datetime], net_lps: Float, *, tz: ZoneInfo, window: int = 7
) -> NightFlow:
    """MNF per local day from net inflow per 15-minute bucket (any bucket list; non-night
    buckets are ignored)."""
    net = np.asarray(net_lps, dtype=np.float64)
    night = is_night(bucket_starts, tz)
    per_day: dict[date, list[float]] = {}
    for b, x, ok in zip(bucket_starts, net, night, strict=True):
        if ok:
            per_day.setdefault(b.astimezone(tz).date(), []).append(float(x))
    days = sorted(per_day)
    mnf = np.full(len(days), np.nan)
    mean = np.full(len(days), np.nan)
    for i, d in enumerate(days):
        vals = np.array(per_day[d])
        good = vals[~np.isnan(vals)]
        if good.size:
            mnf[i] = good.min()
            mean[i] = good.mean()
    return NightFlow(days, mnf, mean, moving_mean(mnf, window), trend_slope(days, mnf))


def moving_mean(x: Float, window: int) -> Float:
    """Centred moving mean ignoring NaN (NaN where the window holds no value)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    half = window // 2
    vals = np.nan_to_num(x, nan=0.0)
    cnt = (~np.isnan(x)).astype(np.float64)
    cs = np.concatenate([[0.0], np.cumsum(vals)])
    cc = np.concatenate([[0.0], np.cumsum(cnt)])
    idx = np.arange(x.size)
    lo = np.clip(idx - half, 0, x.size)
    hi = np.clip(idx + (window - half), 0, x.size)
    s, c = cs[hi] - cs[lo], cc[hi] - cc[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / c, np.nan)


def trend_slope(days: list[date], values: Float) -> float | None:
    """Least-squares slope (units per day) over the days that have a value."""
    y = np.asarray(values, dtype=np.float64)
    if not days:
        return None
    x = np.array([(d - days[0]).days for d in days], dtype=np.float64)
    ok = ~np.isnan(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return None
    xs, ys = x[ok], y[ok]
    xm = xs - xs.mean()
    return float((xm * (ys - ys.mean())).sum() / (xm * xm).sum())


def local_day_edges(first: date, last: date, tz: ZoneInfo) -> list[datetime]:
    """Local-midnight instants from ``first`` to ``last + 1 day`` (aware, in ``tz``)."""
    n = (last - first).days + 2
    return [
        datetime.combine(first + timedelta(days=i), datetime.min.time(), tzinfo=tz)
        for i in range(n)
    ]
