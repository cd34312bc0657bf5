"""Hydraulic scenarios: sampled values agree with direct WNTR/EPANET runs; patterns; noise."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wntr
from simulators import demand
from simulators.hydraulics import (
    NoiseModel,
    ScenarioConfig,
    ScenarioResult,
    prepare_network,
    run_scenario,
    simulate,
)
from simulators.sites import sites_from_network

from tests.unit.simulators.conftest import START


def _direct_net1(duration: int, step: int, tmp: Path) -> Any:
    """Net1 straight from WNTR's library, its own demands, run by EpanetSimulator."""
    wn = wntr.network.WaterNetworkModel(str(files("wntr") / "library" / "networks" / "Net1.inp"))
    wn.options.time.duration = duration
    wn.options.time.hydraulic_timestep = step
    wn.options.time.report_timestep = step
    wn.options.time.rule_timestep = min(int(wn.options.time.rule_timestep), step)
    wn.options.quality.parameter = "NONE"
    return wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp / "direct"))


def test_pressures_and_flows_match_a_direct_wntr_run(tmp_path: Path) -> None:
    wn = wntr.network.WaterNetworkModel(str(files("wntr") / "library" / "networks" / "Net1.inp"))
    sites = sites_from_network(wn, seed=3, n_pressure=6)
    cfg = ScenarioConfig(
        network="Net1",
        start=START,
        duration_s=8 * 3600,
        step_s=300,
        sample_s=300,
        demand="original",
        noise=NoiseModel.exact(),
        seed=3,
    )
    result = run_scenario(cfg, sites)
    direct = _direct_net1(8 * 3600, 300, tmp_path)
    compared = 0
    for s in sites:
        sim = result.series(s.code).to_numpy()
        if s.kind in ("pressure", "level"):
            ref = direct.node["pressure"][s.element].to_numpy(dtype=float)
        elif s.kind == "flow":
            ref = direct.link["flowrate"][s.element].to_numpy(dtype=float) * 1000
        else:
            continue
        assert len(sim) == len(ref) == 97
        np.testing.assert_allclose(sim, ref, atol=1e-4)
        compared += 1
    assert compared >= 8  # 6 pressure sensors, pump and source flows, the tank level


def test_class_demands_match_a_direct_run_of_the_same_network(net3_burst: ScenarioResult) -> None:
    wn, _, _ = prepare_network(net3_burst.config)
    direct = simulate(wn)
    for s in net3_burst.sites:
        if s.kind == "pressure":
            ref = np.interp(
                net3_burst.times,
                direct.node["pressure"].index.to_numpy(dtype=float),
                direct.node["pressure"][s.element].to_numpy(dtype=float),
            )
            np.testing.assert_allclose(net3_burst.series(s.code, measured=False), ref, atol=1e-6)


def test_meter_registers_integrate_their_share_of_junction_demand(
    net3_burst: ScenarioResult,
) -> None:
    res = net3_burst
    demand_df = res.results.node["demand"]
    htimes = demand_df.index.to_numpy(dtype=float)
    meters = [s for s in res.sites if s.kind == "meter"]
    assert meters
    by_node: dict[str, float] = {}
    for s in meters:
        reg = res.series(s.code, measured=False).to_numpy()
        assert np.all(np.diff(reg) >= -1e-9)  # registers never run backwards
        by_node[s.element] = by_node.get(s.element, 0.0) + reg[-1] - reg[0]
    for node, used in by_node.items():
        shares = sum(s.share for s in meters if s.element == node)
        q = demand_df[node].to_numpy(dtype=float)
        volume = float((q[:-1] * np.diff(htimes)).sum())
        assert used == pytest.approx(volume * shares, rel=1e-9, abs=1e-9)


def test_class_patterns_vary_by_day_and_are_seeded() -> None:
    a = demand.class_pattern("residential", days=3, pattern_step_s=900, seed=1)
    b = demand.class_pattern("residential", days=3, pattern_step_s=900, seed=1)
    c = demand.class_pattern("residential", days=3, pattern_step_s=900, seed=2)
    assert len(a) == 3 * 96
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    daily = a.reshape(3, 96).mean(axis=1)
    assert daily.std() > 0  # day-to-day variation
    assert abs(a.mean() - 1.0) < 0.1
    res = demand.class_profile("residential")
    com = demand.class_profile("commercial")
    assert res[7] > res[3] and com[11] > com[2]  # morning peak; office hours


def test_noise_bias_and_quantisation(net3_burst: ScenarioResult) -> None:
    res = net3_burst
    for i, s in enumerate(res.sites):
        if s.kind != "pressure":
            continue
        meas, truth = res.measured[:, i], res.truth[:, i]
        np.testing.assert_allclose(meas * 100, np.round(meas * 100), atol=1e-6)  # 0.01 m
        err = meas - truth
        assert 0 < err.std() < 0.2
        assert abs(err.mean()) < 0.6  # bias ~ N(0, 0.1 m)
    exact = run_scenario(
        ScenarioConfig(network="Net1", start=START, duration_s=3600, noise=NoiseModel.exact()),
        sites_from_network(
            wntr.network.WaterNetworkModel(
                str(files("wntr") / "library" / "networks" / "Net1.inp")
            ),
            seed=0,
        ),
    )
    np.testing.assert_array_equal(exact.measured, exact.truth)


def test_step_is_checked() -> None:
    with pytest.raises(ValueError):
        ScenarioConfig(step_s=30)
    with pytest.raises(ValueError):
        ScenarioConfig(step_s=1800)
