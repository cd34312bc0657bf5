"""Segments equal WNTR's valve_segments (grouping; ids may differ)."""

from __future__ import annotations

import numpy as np
import pytest
import wntr

from tests.unit.isolation.conftest import net_path, small_topology
from waternet.errors import ValidationFailed
from waternet.isolation.segments import SegmentIndex
from waternet.network.topology import Topology
from waternet.network.valves import ValveLayer


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


CASES = [
    ("Net3", "strategic", 1),
    ("Net3", "random", 60),
    ("Net3", "strategic", 0),
    ("ky10", "strategic", 1),
    ("ky10", "random", 700),
    ("Net6", "strategic", 1),
]


@pytest.mark.parametrize(("net", "kind", "n"), CASES)
def test_segments_equal_wntr(net: str, kind: str, n: int) -> None:
    wn = wntr.network.WaterNetworkModel(str(net_path(net)))
    topo = Topology.from_wntr(wn)
    layer_df = wntr.network.generate_valve_layer(wn, kind, n, seed=11)
    node_seg, link_seg, _ = wntr.metrics.valve_segments(wn.to_graph(), layer_df.copy())
    seg = SegmentIndex.build(topo, ValveLayer.from_dataframe(layer_df, topo))
    theirs = np.concatenate(
        [node_seg[topo.node_ids].to_numpy(), link_seg[topo.link_ids].to_numpy()]
    )
    assert _same_partition(theirs, seg.elem_segment)
    assert seg.n_segments == len(set(theirs.tolist()))
    js = seg.to_json()
    assert js["segments"] == seg.n_segments
    assert set(js["node_segment"]) == set(topo.node_ids)


def test_segment_graph_and_self_loop() -> None:
    # N0 -P0- N1 -P1- N2, self-loop P2 at N2
    topo = small_topology(3, [(0, 1), (1, 2), (2, 2)])
    layer = ValveLayer.from_csv("valve,link,node\nV1,P0,N1\nV2,P1,N1\nV3,P2,N2\n", topo)
    seg = SegmentIndex.build(topo, layer)
    ls = dict(zip(topo.link_ids, seg.link_segment.tolist(), strict=True))
    ns = dict(zip(topo.node_ids, seg.node_segment.tolist(), strict=True))
    assert ls["P0"] == ns["N0"]
    assert ns["N1"] not in (ls["P0"], ls["P1"])
    assert ls["P1"] == ns["N2"] == ls["P2"]  # one valve never cuts a self-loop (as WNTR)
    assert seg.n_segments == 3
    vs, others = seg.segment_valves(ns["N1"])
    assert sorted(vs.tolist()) == [0, 1]
    assert set(others.tolist()) == {ls["P0"], ls["P1"]}


def test_valve_csv_lists_every_problem() -> None:
    topo = small_topology(3, [(0, 1), (1, 2)])
    text = (
        "valve,link,node,operable,normal,diameter_mm\n"
        "V1,P0,N9,yes,open,100\n"
        "V2,P7,N1,true,open,\n"
        "V1,P1,N0,maybe,ajar,-3\n"
    )
    with pytest.raises(ValidationFailed) as exc:
        ValveLayer.from_csv(text, topo)
    details = "\n".join(exc.value.details)
    assert "line 2" in details and "unknown node 'N9'" in details
    assert "line 3" in details and "unknown link 'P7'" in details
    assert "line 4: duplicate valve id 'V1'" in details
    assert "not an end of link 'P1'" in details
    assert "operable must be true/false" in details
    assert "normal must be open/closed" in details
    assert "diameter_mm" in details
    with pytest.raises(ValidationFailed):
        ValveLayer.from_csv("valve,link\nV1,P0\n", topo)


def test_valve_csv_attributes_and_defaults() -> None:
    topo = small_topology(3, [(0, 1), (1, 2)])
    layer = ValveLayer.from_csv(
        "valve,link,node,operable,normal,type\nA,P0,N0,false,closed,butterfly\nB,P1,N2,,,\n", topo
    )
    assert layer.operable.tolist() == [False, True]
    assert layer.normal_open.tolist() == [False, True]
    assert layer.diameter_mm.tolist() == [200.0, 200.0]
    assert layer.type == ["butterfly", "gate"]
    assert layer.to_rows(topo)[0]["normal"] == "closed"
