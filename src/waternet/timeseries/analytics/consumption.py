"""Meter consumption from cumulative registers (pure NumPy).

Two steps:

1. :func:`register_intervals` turns one meter's register readings into interval volumes between
   consecutive readings, classifying each interval (bit flags):

   * a known replacement (``replacements``) inside the interval: the old meter's final reading
     (when known) closes the old meter, the new one counts from its initial value (default 0);
     with the final reading unknown the interval is flagged ``ESTIMATED`` as well;
   * the register went down and wrapping at ``capacity`` is the smaller move (and plausible
     under ``max_flow_m3_s``): ``ROLLOVER``, volume ``capacity - v0 + v1``;
   * the register went down by at most ``max_reverse_m3``: ``REVERSE`` flow, a negative volume;
   * the register went down by more: an unannounced replacement, the new meter counting from
     zero (``REPLACEMENT | ESTIMATED``: the old meter's last volume is unknown);
   * longer than ``gap_factor`` times the expected interval: ``GAP``.

2. :func:`bucket_consumption` sums interval volumes into buckets ``(a, b]`` (a reading exactly at
   midnight closes the previous day). An interval inside one bucket is exact; an ordinary
   interval that spans a boundary goes to the bucket of its end reading (the metering
   convention); a ``GAP`` interval spanning boundaries is spread over them in proportion to
   time and those buckets are flagged estimated. Buckets no interval reaches are NaN: nothing is
   ever invented outside the readings.

Times are epoch seconds (int64 or float64), volumes in the register unit (m3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ROLLOVER = 1
REPLACEMENT = 2
REVERSE = 4
GAP = 8
ESTIMATED = 16
FLAG_NAMES = {
    ROLLOVER: "rollover",
    REPLACEMENT: "replacement",
    REVERSE: "reverse_flow",
    GAP: "gap",
    ESTIMATED: "estimated",
}

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Replacement:
    at: float  # epoch seconds
    old_final_value: float | None = None
    new_initial_value: float = 0.0


@dataclass(frozen=True, slots=True)
class Intervals:
    t0: Float
    t1: Float
    volume: Float
    flags: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BucketConsumption:
    volume: Float  # NaN where no interval reaches the bucket
    estimated: NDArray[np.bool_]
    complete: NDArray[np.bool_]  # readings on both sides of the bucket
    flags: NDArray[np.int64]  # OR of the flags of the intervals that contributed


def flag_names(flags: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]


def register_intervals(
    ts: Sequence[float] | NDArray[np.generic],
    values: Sequence[float] | NDArray[np.generic],
    *,
    capacity: float | None = None,
    replacements: Sequence[Replacement] = (),
    expected_interval_s: float = 3600.0,
    gap_factor: float = 2.5,
    max_reverse_m3: float = 1.0,
    max_flow_m3_s: float | None = None,
) -> Intervals:
    """Interval volumes between consecutive readings (``ts`` strictly increasing)."""
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("ts and values must be 1-D arrays of the same length")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError("ts must be strictly increasing")
    t0, t1, v0, v1 = t[:-1], t[1:], v[:-1], v[1:]
    dt = t1 - t0
    d = v1 - v0
    vol = d.copy()
    flags = np.zeros(d.shape, dtype=np.int64)

    down = d < 0
    if capacity is not None and capacity > 0:
        wrapped = capacity - v0 + v1
        roll = down & (wrapped >= 0) & (wrapped < -d)
        if max_flow_m3_s is not None:
            roll &= wrapped <= max_flow_m3_s * dt
        vol[roll] = wrapped[roll]
        flags[roll] |= ROLLOVER
        down &= ~roll
    rev = down & (-d <= max_reverse_m3)
    flags[rev] |= REVERSE
    swap = down & ~rev
    vol[swap] = v1[swap]
    flags[swap] |= REPLACEMENT | ESTIMATED

    # known replacements override the heuristics
    reps = sorted(replacements, key=lambda r: r.at)
    if reps and d.size:
        at = np.array([r.at for r in reps])
        idx = np.searchsorted(at, t0, side="right")
        hit = (idx < at.size) & (at[np.minimum(idx, at.size - 1)] <= t1)
        for i in np.flatnonzero(hit):
            r = reps[int(idx[i])]
            tail = 0.0 if r.old_final_value is None else r.old_final_value - v0[i]
            vol[i] = tail + (v1[i] - r.new_initial_value)
            flags[i] = REPLACEMENT | (ESTIMATED if r.old_final_value is None else 0)

    flags[dt > gap_factor * expected_interval_s] |= GAP
    return Intervals(t0=t0, t1=t1, volume=vol, flags=flags)


def bucket_consumption(
    iv: Intervals, edges: Sequence[float] | NDArray[np.generic]
) -> BucketConsumption:
    """Sum interval volumes into the buckets ``(edges[k], edges[k+1]]``."""
    e = np.asarray(edges, dtype=np.float64)
    nb = max(e.size - 1, 0)
    vol = np.zeros(nb)
    reached = np.zeros(nb, dtype=bool)
    est = np.zeros(nb, dtype=bool)
    flags = np.zeros(nb, dtype=np.int64)
    if nb == 0 or iv.t0.size == 0:
        return BucketConsumption(np.full(nb, np.nan), est, np.zeros(nb, dtype=bool), flags)
    k0 = np.searchsorted(e, iv.t0, side="right") - 1  # bucket holding t0 (t0 in [a, b))
    k1 = np.searchsorted(e, iv.t1, side="left") - 1  # bucket holding t1 (t1 in (a, b])
    single = (k0 == k1) | ~((iv.flags & GAP) > 0)
    ok = single & (k1 >= 0) & (k1 < nb)
    np.add.at(vol, k1[ok], iv.volume[ok])
    reached[k1[ok]] = True
    np.bitwise_or.at(flags, k1[ok], iv.flags[ok])
    est_iv = ok & ((iv.flags & ESTIMATED) > 0)
    est[k1[est_iv]] = True
    for i in np.flatnonzero(~single):
        a, b = iv.t0[i], iv.t1[i]
        lo, hi = max(int(k0[i]), 0), min(int(k1[i]), nb - 1)
        for k in range(lo, hi + 1):
            overlap = min(b, e[k + 1]) - max(a, e[k])
            if overlap <= 0:
                continue
            vol[k] += iv.volume[i] * overlap / (b - a)
            reached[k] = True
            est[k] = True
            flags[k] |= iv.flags[i] | ESTIMATED
    first, last = iv.t0[0], iv.t1[-1]
    complete = (e[:-1] >= first) & (e[1:] <= last)
    return BucketConsumption(
        volume=np.where(reached, vol, np.nan), estimated=est, complete=complete, flags=flags
    )


def consumption(
    ts: Sequence[float] | NDArray[np.generic],
    values: Sequence[float] | NDArray[np.generic],
    edges: Sequence[float] | NDArray[np.generic],
    **kwargs: object,
) -> BucketConsumption:
    """:func:`register_intervals` then :func:`bucket_consumption`."""
    return bucket_consumption(register_intervals(ts, values, **kwargs), edges)  # type: ignore[arg-type]
