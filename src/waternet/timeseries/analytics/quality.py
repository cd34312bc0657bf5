"""Data quality per sensor (pure): completeness, flat-line and stuck detection, last seen.

* completeness: readings received / readings expected over a window (capped at 1); the expected
  interval comes from the sensor (``meta.interval_s``) or its kind's default.
* stuck: at least ``min_count`` readings over the last ``flat_window`` and all exactly equal.
* flat-line: same, with ``max - min <= tolerance`` (a value frozen with noise or rounding).
  Kinds that are legitimately constant (pump status, meter registers at night) are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_INTERVAL_S: dict[str, float] = {
    "MT": 3600.0,  # NB-IoT meter registers: hourly interval readings (sent daily)
    "meter_register": 3600.0,
}
FALLBACK_INTERVAL_S = 60.0
NOT_FLAT_CHECKED = frozenset({"PS", "pump_status", "MT", "meter_register"})
TOLERANCE: dict[str, float] = {"PT": 0.01, "pressure": 0.01, "FT": 0.001, "flow": 0.001}
DEFAULT_TOLERANCE = 1e-6
FLAT_WINDOW = timedelta(hours=6)
MIN_COUNT = 5


def expected_interval_s(kind: str, meta: dict[str, object] | None = None) -> float:
    raw = (meta or {}).get("interval_s")
    if isinstance(raw, int | float) and raw > 0:
        return float(raw)
    return DEFAULT_INTERVAL_S.get(kind, FALLBACK_INTERVAL_S)


def completeness(received: int, window_s: float, interval_s: float) -> float:
    if window_s <= 0 or interval_s <= 0:
        return 0.0
    expected = window_s / interval_s
    return 0.0 if expected <= 0 else min(1.0, received / expected)


@dataclass(frozen=True, slots=True)
class FlatVerdict:
    stuck: bool
    flatline: bool
    checked: bool


def flat_verdict(
    kind: str, *, count: int, vmin: float | None, vmax: float | None, min_count: int = MIN_COUNT
) -> FlatVerdict:
    """Verdict from the count, min and max of the readings over the flat-line window."""
    if kind in NOT_FLAT_CHECKED or count < min_count or vmin is None or vmax is None:
        return FlatVerdict(False, False, False)
    span = vmax - vmin
    tol = TOLERANCE.get(kind, DEFAULT_TOLERANCE)
    return FlatVerdict(stuck=span == 0, flatline=span <= tol, checked=True)


@dataclass(frozen=True, slots=True)
class SensorQuality:
    code: str
    kind: str
    received: int
    expected_interval_s: float
    completeness: float
    stuck: bool
    flatline: bool
    last_seen: datetime | None
    last_received: datetime | None
    silent_for_s: float | None

    @property
    def issues(self) -> list[str]:
        out = []
        if self.completeness < 0.9:
            out.append("incomplete")
        if self.stuck:
            out.append("stuck")
        elif self.flatline:
            out.append("flatline")
        if self.last_seen is None:
            out.append("never_seen")
        return out


def assess(
    *,
    code: str,
    kind: str,
    meta: dict[str, object] | None,
    window_s: float,
    received: int,
    flat_count: int,
    flat_min: float | None,
    flat_max: float | None,
    last_seen: datetime | None,
    last_received: datetime | None,
    now: datetime,
) -> SensorQuality:
    interval = expected_interval_s(kind, meta)
    verdict = flat_verdict(kind, count=flat_count, vmin=flat_min, vmax=flat_max)
    return SensorQuality(
        code=code,
        kind=kind,
        received=received,
        expected_interval_s=interval,
        completeness=completeness(received, window_s, interval),
        stuck=verdict.stuck,
        flatline=verdict.flatline,
        last_seen=last_seen,
        last_received=last_received,
        silent_for_s=None if last_seen is None else (now - last_seen).total_seconds(),
    )
