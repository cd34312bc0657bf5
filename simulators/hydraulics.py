"""Hydraulic scenarios: an EPANET run (``wntr.sim.EpanetSimulator``) sampled at sensor sites.

``run_scenario(config, sites)`` loads the network, replaces demand patterns by customer-class
patterns (or keeps the network's own), applies bursts, background leakage and closures
(``simulators.events``), runs EPANET at ``step_s`` over ``duration_s`` and samples at each
site, every ``sample_s``: pressure (m), flow (L/s, signed), tank level (m), and meter
registers (m3: initial register + the meter's share of its junction's consumer demand,
integrated over time). The measured values add a per-sensor bias, noise and quantisation
(``NoiseModel``); ``NoiseModel.exact()`` turns all three off.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import wntr

from simulators import demand as demand_mod
from simulators import events as ev
from simulators.sites import SensorSite, stable_rng, write_sites

WNTR_NETWORKS = ("Net1", "Net2", "Net3", "Net6", "ky4", "ky10")


@dataclass(frozen=True, slots=True)
class NoiseModel:
    """Sensor error: per-sensor bias ~ N(0, bias), noise ~ N(0, sigma), then quantisation."""

    pressure_sigma: float = 0.05  # m
    pressure_bias: float = 0.10  # m
    pressure_quantum: float = 0.01  # m
    flow_sigma_rel: float = 0.01  # fraction of the reading
    flow_quantum: float = 0.01  # L/s
    level_sigma: float = 0.005  # m
    level_quantum: float = 0.001  # m
    meter_quantum: float = 0.001  # m3 (1 litre)

    @classmethod
    def exact(cls) -> NoiseModel:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass
class ScenarioConfig:
    network: str = "Net3"  # a WNTR library name, a path to an .inp, or "demo:<size>"
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    duration_s: int = 86400
    step_s: int = 60  # hydraulic and report step, 60..900
    sample_s: int = 60  # sensor sampling interval
    demand: str = "classes"  # "classes" or "original" (keep the network's patterns)
    pattern_step_s: int = 900
    day_sigma: float = 0.05
    step_sigma: float = 0.03
    class_weights: dict[str, float] | None = None
    customer_classes: dict[str, str] | None = None  # junction -> class (demo city)
    bursts: list[ev.Burst] = field(default_factory=list)
    closures: list[ev.Closure] = field(default_factory=list)
    background: ev.BackgroundLeakage | None = None
    demand_model: str = "auto"  # "DDA", "PDD", or auto: PDD when there are closures
    required_pressure: float = 10.0  # m, PDD only
    noise: NoiseModel = field(default_factory=NoiseModel)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 60 <= self.step_s <= 900:
            raise ValueError("step_s must be between 60 and 900 seconds")
        if self.sample_s <= 0 or self.duration_s <= 0:
            raise ValueError("sample_s and duration_s must be positive")
        if self.start.tzinfo is None:
            self.start = self.start.replace(tzinfo=UTC)

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()


def load_network(spec: str, *, seed: int = 0) -> wntr.network.WaterNetworkModel:
    """A WNTR library network by name, an .inp path, or the demo city (``demo:small[:SEED]``,
    city seed 7 by default, the one ``waternet network demo-city`` builds)."""
    if spec.startswith("demo:"):
        from simulators.democity import demo_city_inputs

        return demo_city_inputs(*parse_demo_spec(spec)[:1], seed=parse_demo_spec(spec)[1]).wn
    if spec in WNTR_NETWORKS:
        path = files("wntr") / "library" / "networks" / f"{spec}.inp"
        return wntr.network.WaterNetworkModel(str(path))
    return wntr.network.WaterNetworkModel(spec)


def parse_demo_spec(spec: str) -> tuple[str, int]:
    """``demo:small`` -> ("small", 7); ``demo:medium:3`` -> ("medium", 3)."""
    parts = spec.split(":")
    return parts[1], int(parts[2]) if len(parts) > 2 else 7


@dataclass
class ScenarioResult:
    config: ScenarioConfig
    sites: list[SensorSite]
    wn: wntr.network.WaterNetworkModel
    results: Any
    times: np.ndarray  # seconds from the start, the sampling grid
    truth: np.ndarray  # [time, site] true values
    measured: np.ndarray  # [time, site] with bias, noise and quantisation
    events: dict[str, Any]
    classes: dict[str, str]

    def column(self, code: str) -> int:
        return next(i for i, s in enumerate(self.sites) if s.code == code)

    def series(self, code: str, *, measured: bool = True) -> pd.Series:
        col = (self.measured if measured else self.truth)[:, self.column(code)]
        return pd.Series(col, index=self.times, name=code)

    def ground_truth(self) -> dict[str, Any]:
        c = self.config
        return {
            "network": c.network,
            "seed": c.seed,
            "start": c.start.isoformat().replace("+00:00", "Z"),
            "duration_s": c.duration_s,
            "step_s": c.step_s,
            "sample_s": c.sample_s,
            "demand": c.demand,
            "demand_model": self.wn.options.hydraulic.demand_model,
            "noise": {k: getattr(c.noise, k) for k in c.noise.__slots__},
            "sensors": len(self.sites),
            "events": self.events,
        }

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """readings.csv (code, ts, value, truth), sites.json, scenario.json."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "readings": out / "readings.csv",
            "sites": out / "sites.json",
            "scenario": out / "scenario.json",
        }
        base = self.config.start_epoch
        with paths["readings"].open("w") as f:
            f.write("code,ts,value,truth\n")
            for ti, t in enumerate(self.times):
                ts = datetime.fromtimestamp(base + float(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                for si, s in enumerate(self.sites):
                    f.write(f"{s.code},{ts},{self.measured[ti, si]:.6g},{self.truth[ti, si]:.6g}\n")
        write_sites(paths["sites"], self.sites)
        paths["scenario"].write_text(json.dumps(self.ground_truth(), indent=1) + "\n")
        return paths


def prepare_network(
    config: ScenarioConfig,
) -> tuple[wntr.network.WaterNetworkModel, ev.AppliedEvents, dict[str, str]]:
    """The network exactly as it will be simulated (also used by tests for direct runs)."""
    wn = load_network(config.network, seed=config.seed)
    days = max(1, -(-config.duration_s // 86400))
    classes: dict[str, str] = {}
    if config.demand == "classes":
        classes = demand_mod.assign_classes(
            wn, seed=config.seed, weights=config.class_weights, given=config.customer_classes
        )
        demand_mod.apply_class_patterns(
            wn,
            classes=classes,
            days=days,
            pattern_step_s=config.pattern_step_s,
            seed=config.seed,
            day_sigma=config.day_sigma,
            step_sigma=config.step_sigma,
        )
    elif config.demand != "original":
        raise ValueError("demand must be 'classes' or 'original'")
    opts = wn.options
    opts.time.duration = config.duration_s
    opts.time.hydraulic_timestep = config.step_s
    opts.time.report_timestep = config.step_s
    opts.time.report_start = 0
    opts.time.rule_timestep = min(int(opts.time.rule_timestep), config.step_s)
    opts.quality.parameter = "NONE"
    model = config.demand_model.upper()
    if model == "AUTO":
        model = "PDD" if config.closures else "DDA"
    opts.hydraulic.demand_model = model
    if model == "PDD":
        opts.hydraulic.required_pressure = config.required_pressure
        opts.hydraulic.minimum_pressure = 0.0
    wn, applied = ev.apply_events(
        wn, bursts=config.bursts, closures=config.closures, background=config.background
    )
    return wn, applied, classes


def simulate(wn: wntr.network.WaterNetworkModel) -> Any:
    """Run EPANET in a private temporary directory (parallel runs do not collide)."""
    with tempfile.TemporaryDirectory(prefix="wnsim-") as tmp:
        return wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(tmp) / "run"))


def run_scenario(config: ScenarioConfig, sites: Sequence[SensorSite]) -> ScenarioResult:
    wn, applied, classes = prepare_network(config)
    results = simulate(wn)
    pressure = results.node["pressure"]
    demand = results.node["demand"]
    flow = results.link["flowrate"]
    htimes = pressure.index.to_numpy(dtype=float)
    times = np.arange(0, config.duration_s + 1, config.sample_s, dtype=float)
    times = times[times <= htimes[-1]]
    bg = ev.emitter_flows(
        applied.background_coeffs, pressure, wn.options.hydraulic.emitter_exponent
    )
    consumer = demand.copy()
    if bg.shape[1]:
        consumer[bg.columns] = (demand[bg.columns] - bg).clip(lower=0)
    truth = np.empty((len(times), len(sites)))
    rng_init = stable_rng(config.seed, "registers")
    cum_cache: dict[str, np.ndarray] = {}
    for i, s in enumerate(sites):
        if s.kind in ("pressure", "level"):
            src = pressure[s.element].to_numpy(dtype=float)
            truth[:, i] = np.interp(times, htimes, src)
        elif s.kind == "flow":
            # a split burst pipe keeps its id on its first half
            src = flow[s.element].to_numpy(dtype=float) * 1000.0
            truth[:, i] = np.interp(times, htimes, src)
        elif s.kind == "meter":
            if s.element not in cum_cache:
                q = consumer[s.element].to_numpy(dtype=float)
                # EPANET demand is constant over a step: the register is piecewise linear
                cum_cache[s.element] = np.concatenate(([0.0], np.cumsum(q[:-1] * np.diff(htimes))))
            init = round(float(rng_init.uniform(10.0, 3000.0)), 3)
            truth[:, i] = init + s.share * np.interp(times, htimes, cum_cache[s.element])
        else:
            raise ValueError(f"unknown sensor kind {s.kind!r}")
    measured = apply_noise(truth, sites, config.noise, seed=config.seed)
    truth_events = ev.events_truth(
        applied,
        times=htimes,
        demand=demand,
        flowrate=flow,
        bg_flow=bg,
        start_epoch=config.start_epoch,
    )
    return ScenarioResult(
        config=config,
        sites=list(sites),
        wn=wn,
        results=results,
        times=times,
        truth=truth,
        measured=measured,
        events=truth_events,
        classes=classes,
    )


def _quantise(x: np.ndarray, q: float) -> np.ndarray:
    return np.round(x / q) * q if q > 0 else x


def apply_noise(
    truth: np.ndarray, sites: Sequence[SensorSite], noise: NoiseModel, *, seed: int
) -> np.ndarray:
    """Bias, noise and quantisation per kind; each sensor draws from its own stream."""
    out = truth.copy()
    n = truth.shape[0]
    for i, s in enumerate(sites):
        rng = stable_rng(seed, f"noise:{s.code}")
        bias = float(rng.standard_normal())
        z = rng.standard_normal(n)
        x = truth[:, i]
        if s.kind == "pressure":
            y = x + bias * noise.pressure_bias + z * noise.pressure_sigma
            out[:, i] = _quantise(y, noise.pressure_quantum)
        elif s.kind == "flow":
            out[:, i] = _quantise(x * (1 + z * noise.flow_sigma_rel), noise.flow_quantum)
        elif s.kind == "level":
            out[:, i] = _quantise(x + z * noise.level_sigma, noise.level_quantum)
        elif s.kind == "meter":
            out[:, i] = _quantise(x, noise.meter_quantum)
    return out
