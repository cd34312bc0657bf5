from __future__ import annotations

import networkx as nx
import numpy as np
import wntr

from waternet.isolation.inputs import model_valve_layer
from waternet.network.graph import adjacency_matrix, incidence_matrix, to_networkx
from waternet.network.importers import import_inp
from waternet.network.model import NetworkModel

from .conftest import wntr_network


def test_networkx_view_matches_wntr_graph() -> None:
    path = wntr_network("Net3")
    model, _ = import_inp(path)
    g = to_networkx(model, directed=True)
    ref = wntr.network.WaterNetworkModel(str(path)).to_graph()
    assert isinstance(g, nx.MultiDiGraph)
    assert set(g.nodes) == set(ref.nodes)
    assert sorted((u, v, k) for u, v, k in g.edges(keys=True)) == sorted(
        (u, v, k) for u, v, k in ref.edges(keys=True)
    )
    u = to_networkx(model)
    assert not u.is_directed() and u.number_of_edges() == len(model.links)
    assert u.nodes["River"]["source"] and u.nodes["River"]["kind"] == "reservoir"
    pumps = sorted(k for _, _, k, d in u.edges(keys=True, data=True) if d["kind"] == "pump")
    assert pumps == sorted(lk.id for lk in model.links if lk.kind == "pump")
    assert nx.is_connected(u)


def test_incidence_matrix(demo_small: NetworkModel) -> None:
    topo = demo_small.to_topology()
    a = incidence_matrix(topo)
    assert a.shape == (len(demo_small.nodes), len(demo_small.links))
    dense = a.toarray()
    assert (dense.sum(axis=0) == 0).all()
    assert (np.abs(dense).sum(axis=0) == 2).all()
    for j, lk in enumerate(demo_small.links[:50]):
        assert dense[topo.node_index[lk.start], j] == -1
        assert dense[topo.node_index[lk.end], j] == 1
    adj = adjacency_matrix(topo)
    g = to_networkx(demo_small)
    for u, v in list(g.edges())[:50]:
        assert adj[topo.node_index[u], topo.node_index[v]] >= 1
    assert adj.diagonal().sum() == 0


def test_valve_layer_from_model(demo_small: NetworkModel) -> None:
    topo = demo_small.to_topology()
    vl = model_valve_layer(demo_small, topo)
    assert vl.valve_ids == [v.id for v in demo_small.valves]
    assert int((~vl.operable).sum()) == sum(1 for v in demo_small.valves if not v.operable)
    for i, v in enumerate(demo_small.valves[:20]):
        assert topo.link_ids[vl.link[i]] == v.link and topo.node_ids[vl.node[i]] == v.node


def test_model_feeds_the_isolation_engine(demo_small: NetworkModel) -> None:
    from waternet.isolation.engine import IsolationEngine
    from waternet.isolation.inputs import isolation_inputs

    topo, valves, assets = isolation_inputs(demo_small)
    assert len(assets.customers) == len(demo_small.customers)
    engine = IsolationEngine(topo, valves, assets=assets)
    pipe = next(lk for lk in demo_small.pipes if lk.diameter_m < 0.5)
    plan = engine.plan(pipe=pipe.id)
    assert pipe.id in plan.isolated_links
    closing = set(plan.valves_to_close)
    assert closing and closing <= {v.id for v in demo_small.valves}
