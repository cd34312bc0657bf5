"""A demo city written as layers and imported back feeds the isolation engine (valves next to a
pump have no size: they must stay unsized, not become 0 mm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from waternet.demo.city import write_demo_city
from waternet.isolation.engine import IsolationEngine
from waternet.isolation.inputs import isolation_inputs
from waternet.network.importers import import_network
from waternet.network.topology import PUMP


def test_written_demo_city_imports_into_a_working_engine(tmp_path: Path) -> None:
    model, _files = write_demo_city("small", tmp_path / "city")
    again, report = import_network(tmp_path / "city")
    assert report.ok
    topology, valves, assets = isolation_inputs(again)
    on_pumps = [i for i, li in enumerate(valves.link) if topology.link_kind[li] == PUMP]
    assert on_pumps, "the small city has valves next to its pump"
    assert all(np.isnan(valves.diameter_mm[i]) for i in on_pumps)
    engine = IsolationEngine(topology, valves, assets=assets)
    pipe = model.pipes[0].id
    assert engine.plan(pipe=pipe).valves_to_close
