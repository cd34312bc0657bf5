from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest
import shapely
import wntr
from shapely.geometry import shape

from waternet.demo.city import (
    CUSTOMERS,
    HYDRANT_SPACING_M,
    apportion,
    build_demo_city,
)
from waternet.errors import ValidationFailed
from waternet.network.model import CRITICAL_CLASSES, SENSOR_CODE_RE, NetworkModel
from waternet.network.validation import validate_model

from .conftest import wntr_network


@pytest.fixture(scope="module")
def medium() -> NetworkModel:
    return build_demo_city("medium", seed=11)


def test_same_seed_same_city(demo_small: NetworkModel) -> None:
    again = build_demo_city("small", seed=7)
    assert again.to_dict() == demo_small.to_dict()
    other = build_demo_city("small", seed=8)
    assert [(v.link, v.node) for v in other.valves] != [(v.link, v.node) for v in demo_small.valves]


def test_generation_leaves_global_random_state_alone() -> None:
    np.random.seed(123)
    random.seed(123)
    build_demo_city("small", seed=3)
    a, b = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    assert (a, b) == (np.random.random(), random.random())


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        build_demo_city("huge")  # type: ignore[arg-type]


def test_valves_are_wntr_strategic_layer(medium: NetworkModel) -> None:
    wn = wntr.network.WaterNetworkModel(str(wntr_network("ky10")))
    ref = wntr.network.generate_valve_layer(wn, "strategic", 1, 11)
    assert [(v.link, v.node) for v in medium.valves] == list(
        zip(ref["link"], ref["node"], strict=True)
    )
    bad = [v for v in medium.valves if not v.operable]
    assert 1 <= len(bad) <= 0.05 * len(medium.valves)
    assert len({v.id for v in medium.valves}) == len(medium.valves)


def test_city_is_valid_placed_and_sized(medium: NetworkModel) -> None:
    report = validate_model(medium)
    assert report.ok
    wn = wntr.network.WaterNetworkModel(str(wntr_network("ky10")))
    assert (len(medium.nodes), len(medium.links)) == (wn.num_nodes, wn.num_links)
    ll = medium.node_array("lonlat")
    centre = (ll.min(axis=0) + ll.max(axis=0)) / 2
    assert centre[0] == pytest.approx(117.23, abs=1e-3)
    assert centre[1] == pytest.approx(31.82, abs=1e-3)
    xy = medium.node_array("xy")
    assert (np.ptp(xy, axis=0) > 5_000).all() and (np.ptp(xy, axis=0) < 60_000).all()


def test_dmas_partition_the_junctions(medium: NetworkModel) -> None:
    assert 5 <= len(medium.dmas) <= 20
    codes = {d.code for d in medium.dmas}
    assert all(n.dma in codes for n in medium.nodes if n.kind == "junction")
    assert all(n.dma is None for n in medium.nodes if n.is_source)
    nodes = medium.node_by_id
    for d in medium.dmas:
        geom = shape(d.geometry)
        assert geom.is_valid and geom.area > 0
        assert d.boundary_meters, d.code
        for m in d.boundary_meters:
            lk = medium.link(m.link)
            inside = nodes[lk.end if m.inflow == 1 else lk.start]
            outside = nodes[lk.start if m.inflow == 1 else lk.end]
            assert inside.dma == d.code and outside.dma != d.code
            assert m.sensor is not None and m.sensor.startswith("FT-")
    # every link crossing a border is metered on both sides
    crossing = [lk for lk in medium.links if nodes[lk.start].dma != nodes[lk.end].dma]
    metered = Counter(m.link for d in medium.dmas for m in d.boundary_meters)
    for lk in crossing:
        assert metered[lk.id] == (nodes[lk.start].dma is not None) + (nodes[lk.end].dma is not None)
    # the polygons hold most of their members
    for d in medium.dmas:
        geom = shapely.buffer(shape(d.geometry), 1e-6)
        pts = [n.lonlat for n in medium.nodes if n.dma == d.code]
        inside = shapely.contains_xy(geom, *np.array(pts).T)
        assert inside.mean() > 0.95


def test_sensors(medium: NetworkModel) -> None:
    codes = [s.code for s in medium.sensors]
    assert len(set(codes)) == len(codes)
    for s in medium.sensors:
        m = SENSOR_CODE_RE.match(s.code)
        assert m is not None and m.group(1) == s.kind and m.group(2) == (s.dma or "X")
    kinds = Counter(s.kind for s in medium.sensors)
    assert kinds["MT"] == len(medium.customers)
    assert kinds["LT"] == sum(1 for n in medium.nodes if n.kind == "tank")
    assert kinds["PS"] == sum(1 for lk in medium.links if lk.kind == "pump")
    assert kinds["PT"] >= 2 * len(medium.dmas)
    source_links = {
        lk.id
        for lk in medium.links
        if medium.node(lk.start).is_source or medium.node(lk.end).is_source
    }
    ft_links = {s.link for s in medium.sensors if s.kind == "FT"}
    assert source_links <= ft_links
    assert min(int(s.code[-6:]) for s in medium.sensors if s.kind == "MT") == 100_001


def test_customers_follow_demand(medium: NetworkModel) -> None:
    assert len(medium.customers) == CUSTOMERS["medium"]
    classes = Counter(c.customer_class for c in medium.customers)
    assert set(CRITICAL_CLASSES) <= set(classes)
    assert classes["residential"] > 0.8 * len(medium.customers)
    per_node: Counter[str] = Counter()
    for c in medium.customers:
        if c.node is not None:
            per_node[c.node] += 1
        else:
            assert c.link is not None and medium.link(c.link).kind == "pipe"
    on_pipe = sum(1 for c in medium.customers if c.node is None)
    assert 0.2 < on_pipe / len(medium.customers) < 0.4
    j = [n for n in medium.nodes if n.kind == "junction"]
    top = max(j, key=lambda n: n.base_demand_m3s)
    zero = [n for n in j if n.base_demand_m3s == 0]
    assert per_node[top.id] > 10
    assert all(per_node[n.id] == 0 for n in zero)


def test_hydrants_are_spaced(medium: NetworkModel) -> None:
    pts = [medium.node(h.node).xy for h in medium.hydrants]
    assert len(pts) > 50
    a = np.array(pts)
    for i in range(0, len(a), 7):
        d = np.hypot(*(a - a[i]).T)
        d[i] = np.inf
        assert d.min() >= HYDRANT_SPACING_M - 1e-6


def test_apportion() -> None:
    assert apportion(np.array([1.0, 1.0, 2.0]), 8).tolist() == [2, 2, 4]
    got = apportion(np.array([0.3, 0.3, 0.4]), 10)
    assert got.sum() == 10 and got.tolist() == [3, 3, 4]
    assert apportion(np.zeros(3), 5).sum() == 0
    assert math.isclose(apportion(np.array([1e-9, 1.0]), 7).sum(), 7)


def test_large_city_matches_net6() -> None:
    m = build_demo_city("large", seed=7)
    wn = wntr.network.WaterNetworkModel(str(wntr_network("Net6")))
    assert (len(m.nodes), len(m.links)) == (wn.num_nodes, wn.num_links)
    assert len(m.dmas) == 20 and len(m.customers) == CUSTOMERS["large"]
