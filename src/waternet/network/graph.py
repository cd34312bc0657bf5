"""Graph views of a network model: NetworkX for analysis, the compact :class:`Topology` arrays
and a SciPy sparse node-link incidence matrix for the hot paths."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
from scipy.sparse import csr_array

from waternet.isolation.valves import ValveLayer
from waternet.network.model import NetworkModel
from waternet.network.topology import (
    JUNCTION,
    PIPE,
    PUMP,
    RESERVOIR,
    TANK,
    VALVE,
    Topology,
)

if TYPE_CHECKING:
    from waternet.isolation.assets import Assets

_NODE_KIND = {"junction": JUNCTION, "reservoir": RESERVOIR, "tank": TANK}
_LINK_KIND = {"pipe": PIPE, "pump": PUMP, "valve": VALVE}


def model_to_topology(model: NetworkModel) -> Topology:
    """Compact arrays in model order (node i = ``model.nodes[i]``, link j = ``model.links[j]``).

    ``node_xy`` holds the projected metres when every node has coordinates. Raises
    :class:`~waternet.errors.ValidationFailed` on duplicate ids or unknown end nodes.
    """
    nodes, links = model.nodes, model.links
    xy: np.ndarray | None = None
    if nodes and all(n.x is not None and n.y is not None for n in nodes):
        xy = np.array([(n.x, n.y) for n in nodes], dtype=np.float64)
    return Topology.build(
        node_ids=[n.id for n in nodes],
        node_kind=[_NODE_KIND.get(n.kind, JUNCTION) for n in nodes],
        link_ids=[lk.id for lk in links],
        link_start_ids=[lk.start for lk in links],
        link_end_ids=[lk.end for lk in links],
        link_kind=[_LINK_KIND.get(lk.kind, PIPE) for lk in links],
        link_oneway=[lk.oneway for lk in links],
        link_closed=[lk.closed for lk in links],
        length_m=[lk.length_m for lk in links],
        diameter_m=[lk.diameter_m if lk.kind != "pump" else float("nan") for lk in links],
        xy=xy,
    )


def model_valve_layer(model: NetworkModel, topology: Topology | None = None) -> ValveLayer:
    """The model's isolation valves as the isolation engine's :class:`ValveLayer`."""
    topo = topology if topology is not None else model.to_topology()
    rows: list[dict[str, Any]] = [
        {
            "valve": v.id,
            "link": v.link,
            "node": v.node,
            "diameter_mm": v.diameter_mm,
            "type": v.type,
            "normal": v.normal,
            "operable": v.operable,
        }
        for v in model.valves
    ]
    return ValveLayer.from_rows(rows, topo)


def isolation_assets(model: NetworkModel, topology: Topology | None = None) -> Assets:
    """Customers, hydrants, sensor sites and node DMAs as the isolation engine's
    :class:`~waternet.isolation.assets.Assets`."""
    from waternet.isolation.assets import Assets, Customer, Site

    topo = topology if topology is not None else model.to_topology()
    return Assets.build(
        topo,
        customers=[Customer(account=c.account, node=c.node, link=c.link,
                            klass=c.customer_class) for c in model.customers],
        hydrants=[Site(id=h.id, node=h.node) for h in model.hydrants],
        sensors=[Site(id=s.code, node=s.node, link=s.link) for s in model.sensors],
        node_dma={n.id: n.dma for n in model.nodes if n.dma is not None},
    )


def isolation_inputs(model: NetworkModel) -> tuple[Topology, ValveLayer, Assets]:
    """Everything ``IsolationEngine(topology, valves, assets=assets)`` needs from a model."""
    topo = model.to_topology()
    return topo, model_valve_layer(model, topo), isolation_assets(model, topo)


def to_networkx(model: NetworkModel, *, directed: bool = False) -> nx.MultiGraph:
    """A NetworkX multigraph keyed by ids (edge key = link id, edge from start to end node).

    Node attributes: kind, source, lon, lat, x, y, pos (x, y), elevation_m, base_demand_m3s,
    dma. Edge attributes: kind, length_m, diameter_m, status, closed, oneway, check_valve,
    valve_type. ``directed=True`` gives a :class:`networkx.MultiDiGraph` (start -> end).
    """
    g: nx.MultiGraph = nx.MultiDiGraph() if directed else nx.MultiGraph()
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
