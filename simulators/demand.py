"""Demand patterns per customer class, with seeded day-to-day variation.

Each class has a 24-hour profile (hourly multipliers, mean 1). A scenario builds, per class,
one WNTR pattern spanning the whole period at ``pattern_step_s``: the profile interpolated to
that step, times a per-day factor ~ N(1, day_sigma) and a per-step factor ~ N(1, step_sigma).
Junctions keep their base demand; only their pattern is replaced by their class's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import wntr

from simulators.sites import stable_rng

CLASSES = ("residential", "commercial", "industrial", "critical")

_PROFILES: dict[str, list[float]] = {
    # hour:        0    1    2    3    4    5    6    7    8    9   10   11
    #             12   13   14   15   16   17   18   19   20   21   22   23
    "residential": [
        0.45,
        0.35,
        0.30,
        0.30,
        0.35,
        0.55,
        1.10,
        1.75,
        1.65,
        1.25,
        1.05,
        1.00,
        1.05,
        0.95,
        0.85,
        0.85,
        0.95,
        1.20,
        1.55,
        1.60,
        1.45,
        1.20,
        0.85,
        0.60,
    ],
    "commercial": [
        0.30,
        0.25,
        0.25,
        0.25,
        0.30,
        0.40,
        0.70,
        1.10,
        1.50,
        1.65,
        1.70,
        1.70,
        1.60,
        1.60,
        1.65,
        1.60,
        1.50,
        1.30,
        1.00,
        0.80,
        0.60,
        0.45,
        0.35,
        0.30,
    ],
    "industrial": [
        0.70,
        0.70,
        0.70,
        0.70,
        0.70,
        0.80,
        1.10,
        1.20,
        1.20,
        1.20,
        1.20,
        1.15,
        1.10,
        1.20,
        1.20,
        1.20,
        1.20,
        1.15,
        1.10,
        1.00,
        0.95,
        0.85,
        0.80,
        0.75,
    ],
    "critical": [
        0.85,
        0.80,
        0.80,
        0.80,
        0.85,
        0.90,
        1.00,
        1.10,
        1.15,
        1.15,
        1.15,
        1.10,
        1.10,
        1.10,
        1.10,
        1.10,
        1.10,
        1.10,
        1.05,
        1.00,
        0.95,
        0.95,
        0.90,
        0.85,
    ],
}
DEFAULT_CLASS_WEIGHTS = {
    "residential": 0.70,
    "commercial": 0.15,
    "industrial": 0.10,
    "critical": 0.05,
}


def class_profile(name: str) -> np.ndarray:
    """The hourly profile of a class, normalised to mean 1."""
    p = np.asarray(_PROFILES[name], dtype=float)
    return p / p.mean()


def class_pattern(
    name: str,
    *,
    days: int,
    pattern_step_s: int,
    seed: int,
    day_sigma: float = 0.05,
    step_sigma: float = 0.03,
) -> np.ndarray:
    """Multipliers for ``days`` days at ``pattern_step_s``, deterministic for ``seed``."""
    if 86400 % pattern_step_s:
        raise ValueError("pattern_step_s must divide a day")
    per_day = 86400 // pattern_step_s
    hours = np.arange(per_day) * pattern_step_s / 3600.0
    prof = class_profile(name)
    # periodic linear interpolation of the hourly profile (values at the middle of each hour)
    day = np.interp(hours, np.arange(24) + 0.5, prof, period=24)
    rng = stable_rng(seed, f"demand:{name}")
    day_factor = np.clip(rng.normal(1.0, day_sigma, size=days), 0.5, 1.5)
    step_factor = np.clip(rng.normal(1.0, step_sigma, size=days * per_day), 0.7, 1.3)
    return np.tile(day, days) * np.repeat(day_factor, per_day) * step_factor


def assign_classes(
    wn: wntr.network.WaterNetworkModel,
    *,
    seed: int,
    weights: Mapping[str, float] | None = None,
    given: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Customer class per demand junction: from ``given`` (demo city customers) or seeded."""
    weights = dict(weights or DEFAULT_CLASS_WEIGHTS)
    names = sorted(weights)
    probs = np.array([weights[n] for n in names], dtype=float)
    probs /= probs.sum()
    rng = stable_rng(seed, "classes")
    out: dict[str, str] = {}
    for j in sorted(wn.junction_name_list):
        draw = names[int(rng.choice(len(names), p=probs))]  # drawn always: stable sequence
        out[j] = (given or {}).get(j, draw)
    return out


def apply_class_patterns(
    wn: wntr.network.WaterNetworkModel,
    *,
    classes: Mapping[str, str],
    days: int,
    pattern_step_s: int,
    seed: int,
    day_sigma: float = 0.05,
    step_sigma: float = 0.03,
) -> dict[str, str]:
    """Add one pattern per class and point each junction's demands at its class's pattern.

    Returns the pattern name per class. Sets the network's pattern time step.
    """
    wn.options.time.pattern_timestep = pattern_step_s
    wn.options.time.pattern_start = 0
    names: dict[str, str] = {}
    for cls in sorted(set(classes.values())):
        pname = f"WNSIM_{cls.upper()}"
        mult = class_pattern(
            cls,
            days=days,
            pattern_step_s=pattern_step_s,
            seed=seed,
            day_sigma=day_sigma,
            step_sigma=step_sigma,
        )
        if pname in wn.pattern_name_list:
            wn.remove_pattern(pname)
        wn.add_pattern(pname, [float(round(m, 6)) for m in mult])
        names[cls] = pname
    for jname, cls in classes.items():
        junction = wn.get_node(jname)
        for d in junction.demand_timeseries_list:
            d.pattern_name = names[cls]
    return names
