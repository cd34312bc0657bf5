"""Property tests on random small networks and valve layers, against a NetworkX reference."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.unit.isolation.conftest import (
    closed_pairs,
    draw_valve_rows,
    elems_to_keys,
    reference_supplied,
    small_topology,
)
from waternet.isolation.engine import IsolationEngine
from waternet.network.topology import PIPE, PUMP, Topology
from waternet.network.valves import ValveLayer


@st.composite
def scenarios(draw: Any) -> tuple[Topology, ValveLayer, str, list[str]]:
    n = draw(st.integers(3, 9))
    m = draw(st.integers(2, 14))
    links = [(draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))) for _ in range(m)]
    kinds = [draw(st.sampled_from([PIPE] * 6 + [PUMP])) for _ in range(m)]
    kinds[0] = PIPE
    oneway = [k == PUMP or draw(st.integers(0, 9)) == 0 for k in kinds]
    closed = [k == PIPE and draw(st.integers(0, 9)) == 0 for k in kinds]
    closed[0] = False
    sources = tuple(sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2)))))
    topo = small_topology(n, links, sources=sources, kinds=kinds, oneway=oneway, closed=closed)
    rows = draw_valve_rows(draw, links)
    layer = ValveLayer.from_rows(rows, topo)
    pipes = [f"P{j}" for j in range(m) if kinds[j] == PIPE]
    burst = draw(st.sampled_from(pipes))
    stuck = draw(st.lists(st.sampled_from([r["valve"] for r in rows] or ["-"]), max_size=2))
    stuck = [s for s in stuck if s != "-"]
    return topo, layer, burst, stuck


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(scenarios())
def test_plan_properties(case: tuple[Topology, ValveLayer, str, list[str]]) -> None:
    topo, layer, burst, stuck = case
    engine = IsolationEngine(topo, layer)
    plan = engine.plan(pipe=burst, stuck=stuck)
    assert plan.area_elements is not None
    area = elems_to_keys(topo, plan.area_elements)
    b = ("l", topo.link_index[burst])
    assert b in area
    srcs = [i for i in np.flatnonzero(topo.node_is_source).tolist() if ("n", i) not in area]
    if len(srcs) < int(topo.node_is_source.sum()):
        assert any("inside the isolated area" in w for w in plan.warnings)
    all_srcs = np.flatnonzero(topo.node_is_source).tolist()
    before = reference_supplied(topo, closed_pairs(layer, []), all_srcs)
    j = topo.link_index[burst]
    # the burst pipe takes water from both ends, whatever its check valve (issue 11)
    after = reference_supplied(topo, closed_pairs(layer, plan.valves_to_close), srcs, burst=j)
    # every path from a source to the burst pipe crosses a closed valve
    assert b not in after
    # no proposed valve can be left open without reconnecting the burst pipe to supply
    for v in plan.valves_to_close:
        rest = [w for w in plan.valves_to_close if w != v]
        assert b in reference_supplied(topo, closed_pairs(layer, rest), srcs, burst=j)
    # isolated / cut-off sets are exactly the elements without supply
    all_elems = {("n", i) for i in range(topo.n_nodes)} | {("l", j) for j in range(topo.n_links)}
    unsup = all_elems - after
    iso = elems_to_keys(topo, plan.isolated_elements)
    cut = elems_to_keys(topo, plan.cut_off_elements)
    assert iso == unsup & area
    assert cut == (unsup - area) & before
    # stuck and inoperable valves were passed over; the area's boundary valves all hold
    passed = {p.valve for p in plan.passed_valves}
    assert set(stuck) & set(plan.valves_to_close) == set()
    seg = engine.segments
    area_segs = set(plan.area_segments)
    for i, vid in enumerate(layer.valve_ids):
        sides = {int(seg.valve_link_segment[i]), int(seg.valve_node_segment[i])}
        if len(sides) == 2 and len(sides & area_segs) == 1:  # on the boundary
            note(f"{vid} {sides} {area_segs} {layer.to_rows(topo)} {stuck} {burst}")
            note(f"{list(zip(topo.link_start, topo.link_end, strict=True))} {plan.to_json()}")
            assert (not layer.normal_open[i]) or (layer.operable[i] and vid not in stuck)
        if vid in passed:
            assert sides <= area_segs


@PROPS
@given(scenarios(), st.data())
def test_stuck_valve_never_shrinks_area(
    case: tuple[Topology, ValveLayer, str, list[str]], data: Any
) -> None:
    topo, layer, burst, stuck = case
    engine = IsolationEngine(topo, layer)
    plan = engine.plan(pipe=burst, stuck=stuck)
    if not plan.valves_to_close:
        return
    extra = data.draw(st.sampled_from(plan.valves_to_close))
    worse = engine.plan(pipe=burst, stuck=[*stuck, extra])
    assert worse.area_elements is not None and plan.area_elements is not None
    assert set(plan.area_elements.tolist()) <= set(worse.area_elements.tolist())
    assert extra not in worse.valves_to_close
    assert extra in {p.valve for p in worse.passed_valves}
    engine.add_what_if(plan)
    assert plan.what_if is not None
    assert plan.what_if[extra].valves_to_close == worse.valves_to_close
