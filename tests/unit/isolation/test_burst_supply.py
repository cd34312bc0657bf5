"""Issue 11, item 8: a burst check-valve pipe is isolated on both sides, and the parts that
had no supply before the plan are reported as ``unsupplied_before``, not as cut off."""

from __future__ import annotations

import numpy as np
import wntr

from tests.unit.isolation.conftest import elems_to_keys, net_path, reference_supplied
from tests.unit.isolation.conftest import small_topology as topology
from waternet.isolation.assets import Assets, Customer
from waternet.isolation.engine import IsolationEngine
from waternet.network.topology import Topology
from waternet.network.valves import ValveLayer


def test_check_valve_burst_pipe_is_closed_on_both_sides() -> None:
    # N0(res) -P0- N1 =P1 (CV N1->N2)= N2 -P2- N3(tank)
    topo = topology(4, [(0, 1), (1, 2), (2, 3)], sources=(0, 3), oneway=[False, True, False])
    layer = ValveLayer.from_csv("valve,link,node\nV0,P1,N1\nV1,P1,N2\n", topo)
    plan = IsolationEngine(topo, layer).plan(pipe="P1")
    # the tank's water enters the rupture through N2 although the check valve faces it
    assert sorted(plan.valves_to_close) == ["V0", "V1"]
    assert plan.not_needed == []
    assert plan.isolated_links == ["P1"]
    assert plan.cut_off_links == [] and plan.unsupplied_before_links == []


def test_check_valve_burst_facing_the_only_source_and_dry_branch_behind_it() -> None:
    # N0(res) -P0- N1 =P1 (CV N2->N1)= N2 -P2- N3: water never passes P1 towards N2
    topo = topology(4, [(0, 1), (2, 1), (2, 3)], oneway=[False, True, False])
    layer = ValveLayer.from_csv("valve,link,node\nV0,P1,N1\nV1,P1,N2\n", topo)
    assets = Assets.build(topo, customers=[Customer("school", "N3", None, "school")])
    plan = IsolationEngine(topo, layer, assets=assets).plan(pipe="P1")
    # before the fix the plan closed nothing: V0 was "cannot_feed_burst"
    assert plan.valves_to_close == ["V0"]
    # the check valve still rules outside the burst: nothing reaches N2 to feed it
    assert plan.not_needed == [{"valve": "V1", "reason": "bounds_unsupplied_area"}]
    assert plan.isolated_links == ["P1"]
    # N2, P2, N3 were dry already (only reachable backwards through the check valve)
    assert plan.cut_off_nodes == [] and plan.cut_off_links == []
    assert plan.unsupplied_before_nodes == ["N2", "N3"]
    assert plan.unsupplied_before_links == ["P2"]
    c = plan.consequences
    assert c is not None and c.customers == []
    assert (c.unsupplied_before_customers, c.unsupplied_before_critical_count) == (1, 1)
    assert any("no supply before" in w and "1 customer(s)" in w for w in plan.warnings)


def test_closed_burst_pipe_takes_water_from_both_ends() -> None:
    # N0(res) -P0- N1 -P1 (status Closed)- N2 -P2- N0
    topo = topology(3, [(0, 1), (1, 2), (2, 0)], closed=[False, True, False])
    layer = ValveLayer.from_csv("valve,link,node\nV0,P1,N1\nV1,P1,N2\n", topo)
    plan = IsolationEngine(topo, layer).plan(pipe="P1")
    assert sorted(plan.valves_to_close) == ["V0", "V1"]


def _dry_districts() -> tuple[Topology, ValveLayer, Assets]:
    """Main line N0(res) -P0- N1 -P1- N2 -P2- N3, and three districts without supply:
    A behind a normally closed valve (P3, N4, P4, N5), B fed only backwards through a check
    valve (P5 is a CV N6->N2; N6, P6, N7), C behind a closed pipe (P7 closed; N8)."""
    links = [(0, 1), (1, 2), (2, 3), (1, 4), (4, 5), (6, 2), (6, 7), (3, 8)]
    topo = topology(
        9,
        links,
        oneway=[False, False, False, False, False, True, False, False],
        closed=[False] * 7 + [True],
    )
    layer = ValveLayer.from_csv(
        "valve,link,node,normal\nV1,P1,N1,open\nV2,P1,N2,open\nVA,P3,N1,closed\n", topo
    )
    assets = Assets.build(
        topo,
        customers=[
            Customer("main", "N3", None, "residential"),
            Customer("a", "N5", None, "residential"),
            Customer("b", "N7", None, "hospital"),
            Customer("c", "N8", None, "residential"),
        ],
    )
    return topo, layer, assets


def test_dry_districts_are_unsupplied_before_not_cut_off() -> None:
    topo, layer, assets = _dry_districts()
    plan = IsolationEngine(topo, layer, assets=assets).plan(pipe="P1")
    assert plan.valves_to_close == ["V1"]
    assert plan.not_needed == [{"valve": "V2", "reason": "bounds_unsupplied_area"}]
    assert plan.isolated_links == ["P1"]
    assert plan.cut_off_nodes == ["N2", "N3"] and plan.cut_off_links == ["P2"]
    assert plan.unsupplied_before_nodes == ["N4", "N5", "N6", "N7", "N8"]
    assert plan.unsupplied_before_links == ["P3", "P4", "P5", "P6", "P7"]
    c = plan.consequences
    assert c is not None
    assert [x.account for x in c.customers] == ["main"]
    assert c.unsupplied_before_customers == 3 and c.unsupplied_before_critical_count == 1
    assert c.unsupplied_before_pipe_length_m == 500.0
    dry = [w for w in plan.warnings if "no supply before" in w]
    assert dry == [
        "5 node(s) and 5 link(s), 3 customer(s) (1 critical) had no supply before this plan "
        "(behind closed valves or pipes, or reachable only against a pump or check valve): "
        "they are listed in unsupplied_before, not as cut off by this plan"
    ]
    js = plan.to_json()
    assert js["unsupplied_before_nodes"] == ["N4", "N5", "N6", "N7", "N8"]
    assert js["unsupplied_before_links"] == ["P3", "P4", "P5", "P6", "P7"]
    assert js["cut_off_links"] == ["P2"]
    assert js["consequences"]["unsupplied_before_customers"] == 3
    assert js["consequences"]["unsupplied_before_critical_count"] == 1
    roles = {
        f["properties"]["link"]: f["properties"]["role"]
        for f in plan.to_geojson()["features"]
        if "link" in f["properties"]
    }
    assert roles == {
        "P1": "isolated",
        "P2": "cut_off",
        **{p: "unsupplied_before" for p in ("P3", "P4", "P5", "P6", "P7")},
    }


def test_burst_inside_a_dry_district_is_isolated_not_unsupplied_before() -> None:
    topo, layer, assets = _dry_districts()
    plan = IsolationEngine(topo, layer, assets=assets).plan(pipe="P4")
    # the district's own pipes are the isolated area; the rest of the dry part is still listed
    assert set(plan.isolated_links) == {"P3", "P4"}
    assert not set(plan.isolated_links) & set(plan.unsupplied_before_links)
    assert plan.unsupplied_before_links == ["P5", "P6", "P7"]


def test_unsupplied_before_is_computed_once_per_state() -> None:
    topo, layer, assets = _dry_districts()
    engine = IsolationEngine(topo, layer, assets=assets)
    st = engine.state()
    assert st.unsupplied.tolist() == sorted(
        [topo.node_index[n] for n in ("N4", "N5", "N6", "N7", "N8")]
        + [topo.n_nodes + topo.link_index[p] for p in ("P3", "P4", "P5", "P6", "P7")]
    )
    engine.plan(pipe="P1")
    engine.plan(pipe="P2")
    assert engine.state() is st


def test_ky10_check_valve_pipe_is_isolated_from_every_source() -> None:
    wn = wntr.network.WaterNetworkModel(str(net_path("ky10")))
    topo = Topology.from_wntr(wn)
    cv = "P-75"  # the check-valve pipe of ky10
    j = topo.link_index[cv]
    assert wn.get_link(cv).check_valve and topo.link_oneway[j]
    df = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=1)
    layer = ValveLayer.from_dataframe(df, topo)
    plan = IsolationEngine(topo, layer).plan(pipe=cv)
    assert plan.area_elements is not None
    area = elems_to_keys(topo, plan.area_elements)
    srcs = [i for i in np.flatnonzero(topo.node_is_source).tolist() if ("n", i) not in area]
    closed = {(int(layer.link[i]), int(layer.node[i])) for i in np.flatnonzero(~layer.normal_open)}
    shut = closed | {
        (int(layer.link[layer.valve_index[v]]), int(layer.node[layer.valve_index[v]]))
        for v in plan.valves_to_close
    }
    assert ("l", j) not in reference_supplied(topo, shut, srcs, burst=j)
    # each valve is needed: left open, water reaches the rupture through it
    for v in plan.valves_to_close:
        i = layer.valve_index[v]
        assert ("l", j) in reference_supplied(
            topo, shut - {(int(layer.link[i]), int(layer.node[i]))}, srcs, burst=j
        )
    # one valve at each end of the pipe (the strategic layer has them there)
    ends = {int(layer.node[layer.valve_index[v]]) for v in plan.valves_to_close}
    assert ends == {int(topo.link_start[j]), int(topo.link_end[j])}
    assert plan.not_needed == []
