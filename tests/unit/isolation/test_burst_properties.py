"""Property tests (issue 11, item 8): a burst on any pipe, check-valve and closed pipes
included, is cut off from every source by the plan's valves; and the parts without supply
before the plan are reported apart from the cut-off ones. The oracle is NetworkX
(``reference_supplied`` in conftest), not the engine's own graphs."""

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

Case = tuple[Topology, ValveLayer, str, list[str]]


@st.composite
def cv_scenarios(draw: Any) -> Case:
    """Small networks with pumps, check-valve pipes and closed pipes; the burst pipe is a
    check-valve pipe about half of the time (when there is one)."""
    n = draw(st.integers(3, 9))
    m = draw(st.integers(2, 14))
    links = [(draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))) for _ in range(m)]
    kinds = [draw(st.sampled_from([PIPE] * 5 + [PUMP])) for _ in range(m)]
    kinds[0] = PIPE
    oneway = [k == PUMP or draw(st.integers(0, 9)) < 3 for k in kinds]
    closed = [k == PIPE and draw(st.integers(0, 9)) == 0 for k in kinds]
    sources = tuple(sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2)))))
    topo = small_topology(n, links, sources=sources, kinds=kinds, oneway=oneway, closed=closed)
    rows = draw_valve_rows(draw, links)
    layer = ValveLayer.from_rows(rows, topo)
    pipes = [f"P{j}" for j in range(m) if kinds[j] == PIPE]
    cv_pipes = [f"P{j}" for j in range(m) if kinds[j] == PIPE and oneway[j]]
    if cv_pipes and draw(st.booleans()):
        burst = draw(st.sampled_from(cv_pipes))
    else:
        burst = draw(st.sampled_from(pipes))
    stuck = draw(st.lists(st.sampled_from([r["valve"] for r in rows] or ["-"]), max_size=2))
    return topo, layer, burst, [s for s in stuck if s != "-"]


PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(cv_scenarios())
def test_burst_on_any_pipe_is_cut_from_every_source(case: Case) -> None:
    topo, layer, burst, stuck = case
    engine = IsolationEngine(topo, layer)
    plan = engine.plan(pipe=burst, stuck=stuck)
    note(f"{list(zip(topo.link_start, topo.link_end, strict=True))} oneway={topo.link_oneway}")
    note(f"closed={topo.link_closed} valves={layer.to_rows(topo)} burst={burst} stuck={stuck}")
    note(f"plan={plan.to_json()}")
    j = topo.link_index[burst]
    b = ("l", j)
    assert plan.area_elements is not None
    area = elems_to_keys(topo, plan.area_elements)
    assert b in area
    all_srcs = np.flatnonzero(topo.node_is_source).tolist()
    srcs = [i for i in all_srcs if ("n", i) not in area]
    if len(srcs) < len(all_srcs):
        assert any("inside the isolated area" in w for w in plan.warnings)
    # the rupture takes water from both ends: after the plan no source reaches it
    after = reference_supplied(topo, closed_pairs(layer, plan.valves_to_close), srcs, burst=j)
    assert b not in after
    # and every proposed valve is needed: left open, it lets water into the burst
    for v in plan.valves_to_close:
        rest = [w for w in plan.valves_to_close if w != v]
        assert b in reference_supplied(topo, closed_pairs(layer, rest), srcs, burst=j)


@PROPS
@given(cv_scenarios())
def test_isolated_cut_off_and_unsupplied_before_partition_the_dry_part(case: Case) -> None:
    topo, layer, burst, stuck = case
    engine = IsolationEngine(topo, layer)
    plan = engine.plan(pipe=burst, stuck=stuck)
    j = topo.link_index[burst]
    assert plan.area_elements is not None
    area = elems_to_keys(topo, plan.area_elements)
    all_srcs = np.flatnonzero(topo.node_is_source).tolist()
    srcs = [i for i in all_srcs if ("n", i) not in area]
    before = reference_supplied(topo, closed_pairs(layer, []), all_srcs)
    after = reference_supplied(topo, closed_pairs(layer, plan.valves_to_close), srcs, burst=j)
    everything = {("n", i) for i in range(topo.n_nodes)} | {("l", k) for k in range(topo.n_links)}
    iso = elems_to_keys(topo, plan.isolated_elements)
    cut = elems_to_keys(topo, plan.cut_off_elements)
    assert plan.unsupplied_before_elements is not None
    dry = elems_to_keys(topo, plan.unsupplied_before_elements)
    assert iso == (everything - after) & area
    assert cut == (everything - after - area) & before
    assert dry == everything - before - area
    assert not (dry & cut) and not (dry & iso)
    js = plan.to_json()
    assert sorted(js["unsupplied_before_nodes"] + js["unsupplied_before_links"]) == sorted(
        (topo.node_ids[i] if k == "n" else topo.link_ids[i]) for k, i in dry
    )
    assert any("no supply before" in w for w in plan.warnings) == bool(dry)


@PROPS
@given(cv_scenarios(), st.data())
def test_node_burst_keeps_the_rules_of_its_links(case: Case, data: Any) -> None:
    """A burst node has no direction of its own: water reaches it only as the rules of its
    links allow, so a valve on a check-valve pipe leaving it is never proposed."""
    topo, layer, _, stuck = case
    i = data.draw(st.integers(0, topo.n_nodes - 1))
    engine = IsolationEngine(topo, layer)
    plan = engine.plan(node=topo.node_ids[i], stuck=stuck)
    note(f"{list(zip(topo.link_start, topo.link_end, strict=True))} oneway={topo.link_oneway}")
    note(f"closed={topo.link_closed} valves={layer.to_rows(topo)} node={i} stuck={stuck}")
    note(f"plan={plan.to_json()}")
    assert plan.area_elements is not None
    area = elems_to_keys(topo, plan.area_elements)
    srcs = [s for s in np.flatnonzero(topo.node_is_source).tolist() if ("n", s) not in area]
    after = reference_supplied(topo, closed_pairs(layer, plan.valves_to_close), srcs)
    assert ("n", i) not in after
    for v in plan.valves_to_close:
        rest = [w for w in plan.valves_to_close if w != v]
        assert ("n", i) in reference_supplied(topo, closed_pairs(layer, rest), srcs)
