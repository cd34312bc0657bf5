"""Bursts, growing bursts, background leakage, closures, and their ground truth."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from simulators.events import BackgroundLeakage, Burst, Closure, nearest_sites, orifice_coefficient
from simulators.hydraulics import NoiseModel, ScenarioConfig, ScenarioResult, run_scenario
from simulators.sites import SensorSite
from simulators.sites import SensorSite as Site

from tests.unit.simulators.conftest import START


def test_burst_pressure_drop_is_visible_at_the_nearest_sensors(net3_burst: ScenarioResult) -> None:
    """Against the same scenario without the burst (same seed, so the same sensor noise)."""
    res = net3_burst
    b = res.config.bursts[0]
    base = run_scenario(replace(res.config, bursts=[]), res.sites)
    near = nearest_sites(res.wn, b.node, res.sites, k=2)
    far = nearest_sites(res.wn, b.node, res.sites, k=100)[-1]
    for s in [*near, far]:
        diff = (base.series(s.code) - res.series(s.code)).to_numpy()
        assert np.all(diff[res.times < b.start_s] == 0)  # identical until the burst
    drop = {
        s.code: float(
            (base.series(s.code) - res.series(s.code))[
                (res.times > b.start_s) & (res.times <= b.start_s + 3600)
            ].mean()
        )
        for s in [*near, far]
    }
    for s in near:
        assert drop[s.code] > 1.0, drop  # metres, far above the 0.05 m sensor noise
    assert drop[near[0].code] > 5 * drop[far.code]


def test_burst_ground_truth_flow_follows_the_orifice_law(net3_burst: ScenarioResult) -> None:
    res = net3_burst
    truth = res.events["bursts"][0]
    b = res.config.bursts[0]
    flow = np.array(truth["flow_m3s"])
    times = res.results.node["pressure"].index.to_numpy(dtype=float)
    before, after = flow[times < b.start_s], flow[times >= b.start_s]
    assert np.all(before < 1e-5) and np.all(after > 0.005)
    p = res.results.node["pressure"][b.leak_nodes()[0]].to_numpy(dtype=float)[times >= b.start_s]
    expected = orifice_coefficient(b.hole_area_m2, b.cd) * np.sqrt(np.clip(p, 0, None))
    np.testing.assert_allclose(after, expected, rtol=2e-3)
    assert truth["peak_flow_m3s"] == pytest.approx(after.max(), rel=1e-4)
    assert truth["volume_m3"] == pytest.approx(after.sum() * 60, rel=1e-4)
    assert truth["start_ts"] == "2025-03-01T03:00:00Z" and truth["growth"] == "sudden"


def test_growing_burst_steps_up(net3_sites: list[SensorSite]) -> None:
    b = Burst(pipe="151", start_s=3600, hole_area_m2=0.004, growth_s=1800, steps=4)
    assert [a for _, a in b.schedule()] == [0.001] * 4
    assert [t for t, _ in b.schedule()] == [3600, 4200, 4800, 5400]
    res = run_scenario(
        ScenarioConfig(network="Net3", start=START, duration_s=7200, seed=1, bursts=[b]),
        net3_sites[:5],
    )
    flow = np.array(res.events["bursts"][0]["flow_m3s"])
    at = [flow[t // 60 + 1] for t, _ in b.schedule()]
    assert all(x < y for x, y in itertools.pairwise(at))
    assert res.events["bursts"][0]["growth"] == "growing"


def test_closure_shows_in_the_readings(net3_sites: list[SensorSite]) -> None:
    flow_site = next(s for s in net3_sites if s.kind == "flow" and s.element == "20")
    sites = [flow_site, Site(code="FT-D01-000900", kind="flow", element="177", zone="D01")]
    plan = Closure(links=("177",), t_close=3600, t_open=5400)
    res = run_scenario(
        ScenarioConfig(
            network="Net3",
            start=START,
            duration_s=7200,
            seed=2,
            closures=[plan],
            noise=NoiseModel.exact(),
        ),
        sites,
    )
    q = res.series("FT-D01-000900")
    assert abs(q[1800]) > 1.0  # L/s before the closure
    assert np.all(np.abs(q[(q.index > 3600) & (q.index < 5400)]) < 1e-3)
    assert abs(q[6000]) > 1.0  # reopened
    truth = res.events["closures"][0]
    assert truth["links"] == ["177"] and truth["t_open_s"] == 5400
    assert abs(truth["flow_before_m3s"][0]) > 1e-3
    assert res.wn.options.hydraulic.demand_model in ("PDD", "PDA")


def test_background_leakage_adds_flow_but_not_meter_use(net3_sites: list[SensorSite]) -> None:
    meters = [s for s in net3_sites if s.kind == "meter"][:5]
    base = ScenarioConfig(
        network="Net3", start=START, duration_s=3600, seed=3, noise=NoiseModel.exact()
    )
    leaky = ScenarioConfig(
        network="Net3",
        start=START,
        duration_s=3600,
        seed=3,
        noise=NoiseModel.exact(),
        background=BackgroundLeakage(5e-5),
    )
    a, b = run_scenario(base, meters), run_scenario(leaky, meters)
    bg = b.events["background_leakage"]
    assert bg["nodes"] > 50 and bg["mean_flow_m3s"] > 0.001
    # meters register consumer demand only: the same with or without leakage (DDA)
    np.testing.assert_allclose(a.truth, b.truth, rtol=1e-4)
    assert math.isclose(orifice_coefficient(1e-3, 0.6), 0.6e-3 * math.sqrt(2 * 9.81))


def test_ground_truth_files(net3_burst: ScenarioResult, tmp_path: Path) -> None:
    paths = net3_burst.write(tmp_path)
    truth = json.loads(paths["scenario"].read_text())
    assert truth["events"]["bursts"][0]["pipe"] == "151"
    assert truth["network"] == "Net3" and truth["seed"] == 7
    lines = paths["readings"].read_text().splitlines()
    assert lines[0] == "code,ts,value,truth"
    assert len(lines) == 1 + len(net3_burst.times) * len(net3_burst.sites)
    sites = json.loads(paths["sites"].read_text())
    assert {s["code"] for s in sites} == {s.code for s in net3_burst.sites}
