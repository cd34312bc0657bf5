"""Engine behaviour on small hand-made networks with known answers."""

from __future__ import annotations

import pytest

from tests.unit.isolation.conftest import small_topology
from waternet.errors import ValidationFailed
from waternet.isolation.assets import Assets, Customer, Site, load_customers_csv
from waternet.isolation.criticality import best_new_valve, rank_segments
from waternet.isolation.engine import IsolationEngine, NetworkState
from waternet.network.valves import ValveLayer

# N0(res) -P0- N1 -P1- N2 -P2- N3 -P3- N4 (tank when two_sources)
LINE = [(0, 1), (1, 2), (2, 3), (3, 4)]
VALVES = "valve,link,node,operable\nV0,P1,N1,{op}\nV1,P1,N2,true\nV2,P0,N1,true\nV3,P3,N3,true\n"


def _engine(*, two_sources: bool = False, v0_operable: bool = True) -> IsolationEngine:
    topo = small_topology(5, LINE, sources=(0, 4) if two_sources else (0,))
    layer = ValveLayer.from_csv(VALVES.format(op="true" if v0_operable else "false"), topo)
    assets = Assets.build(
        topo,
        customers=[
            Customer("home", "N1", None, "residential"),
            Customer("hosp", "N3", None, "hospital"),
            Customer("shop", None, "P2", "commercial"),
        ],
        hydrants=[Site("H4", node="N4"), Site("H1", node="N1")],
        sensors=[Site("S3", link="P3"), Site("S0", node="N0")],
        node_dma={"N3": "DMA-B", "N1": "DMA-A"},
    )
    return IsolationEngine(topo, layer, assets=assets)


def test_dead_end_is_cut_off_and_its_valve_not_proposed() -> None:
    plan = _engine().plan(pipe="P1")
    assert plan.valves_to_close == ["V0"]
    assert {"valve": "V1", "reason": "bounds_unsupplied_area"} in plan.not_needed
    assert plan.isolated_links == ["P1"]
    assert plan.cut_off_nodes == ["N2", "N3", "N4"]
    assert plan.cut_off_links == ["P2", "P3"]
    c = plan.consequences
    assert c is not None
    assert [x.account for x in c.customers] == ["hosp", "shop"]  # critical first
    assert c.critical_count == 1 and c.by_class == {"commercial": 1, "hospital": 1}
    assert c.hydrants_out_of_service == ["H4"]
    assert c.sensors_reading_zero == ["S3"]
    assert c.dmas_touched == ["DMA-B"]
    assert c.isolated_pipe_length_m == pytest.approx(100.0)
    assert c.isolated_volume_m3 == pytest.approx(3.14159265 * 0.01 * 100.0)
    assert plan.steps[0].customers_supplied == 1  # only "home" is still supplied


def test_two_sources_order_restore_and_what_if() -> None:
    engine = _engine(two_sources=True)
    plan = engine.plan(pipe="P1", what_if=True)
    assert plan.valves_to_close == ["V0", "V1"]
    assert [s.supply_side for s in plan.steps] == [True, False]
    assert [s.customers_supplied for s in plan.steps] == [3, 3]
    assert plan.cut_off_nodes == []
    assert [(r.stage, r.valve) for r in plan.restore] == [(1, "V0"), (2, "V1")]
    assert plan.what_if is not None
    v1_stuck = plan.what_if["V1"]
    assert [p.valve for p in v1_stuck.passed_valves] == ["V1"]
    assert v1_stuck.valves_to_close == ["V3", "V0"]  # nearest the source first
    assert "N2" in v1_stuck.isolated_nodes
    js = plan.to_json()
    assert js["what_if"]["V1"]["valves_to_close"] == ["V3", "V0"]
    gj = plan.to_geojson()
    roles = [f["properties"]["role"] for f in gj["features"]]
    assert roles.count("valve_to_close") == 2 and "isolated" in roles


def test_inoperable_valve_is_passed_over() -> None:
    plan = _engine(v0_operable=False, two_sources=True).plan(pipe="P1")
    assert [(p.valve, p.reason) for p in plan.passed_valves] == [("V0", "inoperable")]
    assert set(plan.valves_to_close) == {"V2", "V1"}
    assert plan.isolated_nodes == ["N1"]
    assert plan.to_geojson()["features"]


def test_live_state_conflict_and_broken_valve() -> None:
    engine = _engine(two_sources=True)
    state = NetworkState(closed=frozenset({"V3"}))
    plan = engine.plan(pipe="P1", state=state)
    assert plan.valves_to_close == ["V0"]
    assert plan.cut_off_nodes == ["N2", "N3"]
    kinds = [c["kind"] for c in plan.conflicts]
    assert "extra_outage" in kinds
    broken = engine.plan(pipe="P1", state=NetworkState(broken=frozenset({"V0"})))
    assert ("V0", "broken") in [(p.valve, p.reason) for p in broken.passed_valves]
    with pytest.raises(ValidationFailed):
        engine.plan(pipe="P1", state=NetworkState(closed=frozenset({"nope"})))


def test_node_point_and_errors() -> None:
    engine = _engine(two_sources=True)
    assert "N2" in engine.plan(node="N2").isolated_nodes
    assert engine.plan(point=(1.5, 1.4)).burst == {"kind": "pipe", "id": "P1"}
    for kw in ({"pipe": "zz"}, {"node": "zz"}, {}, {"pipe": "P1", "node": "N1"}):
        with pytest.raises(ValidationFailed):
            engine.plan(**kw)
    with pytest.raises(ValidationFailed):
        engine.plan(pipe="P1", stuck=["nope"])


def test_customers_csv_validation() -> None:
    topo = small_topology(3, [(0, 1), (1, 2)])
    ok = load_customers_csv("account,node,link,class\nA,N1,,school\nB,,P0,residential\n", topo)
    assert [c.critical for c in ok] == [True, False]
    with pytest.raises(ValidationFailed) as exc:
        load_customers_csv(
            "account,node,link,class\nA,N9,,school\nA,,,x\nC,N1,P0,residential\n", topo
        )
    text = "\n".join(exc.value.details)
    for part in (
        "unknown node 'N9'",
        "duplicate account",
        "neither node nor link",
        "unknown class",
        "not both",
    ):
        assert part in text


def test_criticality_ranking_and_new_valve() -> None:
    engine = _engine()
    ranking = rank_segments(engine)
    assert len(ranking) == engine.segments.n_segments
    assert ranking[0].critical_customers == 1
    keys = [r.key() for r in ranking]
    assert keys == sorted(keys, reverse=True)
    best = best_new_valve(engine)
    assert best is not None
    assert best["after_worst_piece"]["customers"] <= best["before"]["customers"]
