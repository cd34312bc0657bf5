"""Shared small scenarios (Net1 / Net3, a few hours) for the simulator tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simulators.events import Burst
from simulators.faults import FaultPlan
from simulators.fleet import FleetConfig, Stream, build_stream
from simulators.hydraulics import ScenarioConfig, ScenarioResult, load_network, run_scenario
from simulators.sites import SensorSite, sites_from_network

START = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def net3_sites() -> list[SensorSite]:
    return sites_from_network(load_network("Net3"), seed=7, n_meters=60)


@pytest.fixture(scope="session")
def net3_burst(net3_sites: list[SensorSite]) -> ScenarioResult:
    cfg = ScenarioConfig(
        network="Net3",
        start=START,
        duration_s=6 * 3600,
        seed=7,
        bursts=[Burst(pipe="151", start_s=3 * 3600, hole_area_m2=0.002)],
    )
    return run_scenario(cfg, net3_sites)


@pytest.fixture(scope="session")
def net3_stream(net3_burst: ScenarioResult) -> Stream:
    return build_stream(
        net3_burst, FleetConfig(seed=7, faults=FaultPlan.every(2), push_window_s=600)
    )
