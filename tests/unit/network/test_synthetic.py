from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from waternet.demo.synthetic import grid_shape, synthetic_network
from waternet.errors import ValidationFailed
from waternet.network.graph import adjacency_matrix
from waternet.network.validation import validate_model


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5000), seed=st.integers(0, 2**16))
def test_exact_size_connected_and_n_minus_1_valves(n: int, seed: int) -> None:
    net = synthetic_network(n, seed=seed)
    assert net.n_links == n
    topo = net.to_topology()
    ncomp, _ = connected_components(adjacency_matrix(topo), directed=False)
    assert ncomp == 1
    assert net.node_kind.sum() >= 1  # a reservoir
    # strategic N-1: each node has a valve on all its links but one
    deg = np.bincount(np.concatenate([net.link_start, net.link_end]), minlength=net.n_nodes)
    per_node = np.bincount(net.valve_node, minlength=net.n_nodes)
    assert (per_node == deg - 1).all()
    ends = np.stack([net.link_start[net.valve_link], net.link_end[net.valve_link]])
    assert ((ends == net.valve_node).any(axis=0)).all()
    assert (net.length_m > 0).all()
    assert len(net.customer_link) == 0 or net.customer_link.max() < n


def test_grid_shape_always_fits() -> None:
    for n in [*range(1, 3000), 10**5, 10**6, 2 * 10**6 + 7]:
        r, c = grid_shape(n)
        assert r * c - 1 <= n <= r * (c - 1) + c * (r - 1), n


def test_deterministic_and_seed_dependent() -> None:
    a = synthetic_network(2000, seed=5)
    b = synthetic_network(2000, seed=5)
    c = synthetic_network(2000, seed=6)
    assert np.array_equal(a.link_start, b.link_start) and np.array_equal(a.node_xy, b.node_xy)
    assert np.array_equal(a.valve_link, b.valve_link)
    assert not np.array_equal(a.link_start, c.link_start)


def test_model_form_is_valid_and_csvs_parse() -> None:
    net = synthetic_network(1500, seed=2)
    model = net.to_model()
    report = validate_model(model)
    assert report.ok, report.errors[:3]
    assert len(model.links) == 1500 and len(model.valves) == len(net.valve_link)
    classes = Counter(c.customer_class for c in model.customers)
    assert classes["residential"] > classes["commercial"] > 0
    vl = net.valve_layer()
    topo = net.to_topology()
    from waternet.network.valves import ValveLayer

    parsed = ValveLayer.from_csv(net.valves_csv(), topo)
    assert np.array_equal(parsed.link, vl.link) and np.array_equal(parsed.node, vl.node)
    assert np.array_equal(parsed.operable, vl.operable)
    assert net.customers_csv().splitlines()[0] == "account,node,link,class"
    xs = net.node_xy[:, 0]
    assert 2_000 < xs.max() - xs.min() < 10_000  # ~100 m blocks


def test_too_small_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        synthetic_network(1)
