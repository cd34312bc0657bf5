"""Graph views of a network model: NetworkX for analysis, the compact :class:`Topology` arrays
and a SciPy sparse node-link incidence matrix for the hot paths."""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy.sparse import csr_array

from waternet.network.model import NetworkModel
from waternet.network.topology import Topology


def model_to_topology(model: NetworkModel) -> Topology:
    """Compact arrays in model order (see :meth:`NetworkModel.to_topology`)."""
    return model.to_topology()


def to_networkx(model: NetworkModel, *, directed: bool = False) -> nx.MultiGraph[str]:
    """A NetworkX multigraph keyed by ids (edge key = link id, edge from start to end node).

    Node attributes: kind, source, lon, lat, x, y, pos (x, y), elevation_m, base_demand_m3s,
    dma. Edge attributes: kind, length_m, diameter_m, status, closed, oneway, check_valve,
    valve_type. ``directed=True`` gives a :class:`networkx.MultiDiGraph` (start -> end).
    """
    g: nx.MultiGraph[str] = nx.MultiDiGraph() if directed else nx.MultiGraph()
    g.graph.update(name=model.name, crs=model.crs)
    for n in model.nodes:
        g.add_node(
            n.id,
            kind=n.kind,
            source=n.is_source,
            lon=n.lon,
            lat=n.lat,
            x=n.x,
            y=n.y,
            pos=(n.x, n.y),
            elevation_m=n.elevation_m,
            base_demand_m3s=n.base_demand_m3s,
            dma=n.dma,
        )
    for lk in model.links:
        g.add_edge(
            lk.start,
            lk.end,
            key=lk.id,
            id=lk.id,
            kind=lk.kind,
            length_m=lk.length_m,
            diameter_m=lk.diameter_m,
            status=lk.status,
            closed=lk.closed,
            oneway=lk.oneway,
            check_valve=lk.check_valve,
            valve_type=lk.valve_type,
        )
    return g


def incidence_matrix(topology: Topology) -> csr_array:
    """Oriented node-link incidence: shape (n_nodes, n_links), -1 at a link's start node and
    +1 at its end node (so ``A @ q`` is the net inflow at each node for link flows ``q``)."""
    m = topology.n_links
    rows = np.concatenate([topology.link_start, topology.link_end]).astype(np.int64)
    cols = np.concatenate([np.arange(m), np.arange(m)]).astype(np.int64)
    vals = np.concatenate([-np.ones(m, dtype=np.int8), np.ones(m, dtype=np.int8)])
    return csr_array((vals, (rows, cols)), shape=(topology.n_nodes, m))


def adjacency_matrix(topology: Topology) -> csr_array:
    """Undirected node adjacency (n_nodes x n_nodes), entry = number of parallel links."""
    a = incidence_matrix(topology)
    b = abs(a).astype(np.int32)
    adj = (b @ b.T).tolil()
    adj.setdiag(0)
    return csr_array(adj.tocsr())
