"""The isolation engine's inputs from a network version: its valve layer and its assets."""

from __future__ import annotations

from typing import Any

from waternet.isolation.assets import Assets, Customer, Site
from waternet.network.model import NetworkModel
from waternet.network.topology import Topology
from waternet.network.valves import ValveLayer


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
    topo = topology if topology is not None else model.to_topology()
    return Assets.build(
        topo,
        customers=[
            Customer(account=c.account, node=c.node, link=c.link, klass=c.customer_class)
            for c in model.customers
        ],
        hydrants=[Site(id=h.id, node=h.node) for h in model.hydrants],
        sensors=[Site(id=s.code, node=s.node, link=s.link) for s in model.sensors],
        node_dma={n.id: n.dma for n in model.nodes if n.dma is not None},
    )


def isolation_inputs(model: NetworkModel) -> tuple[Topology, ValveLayer, Assets]:
    """Everything ``IsolationEngine(topology, valves, assets=assets)`` needs from a model."""
    topo = model.to_topology()
    return topo, model_valve_layer(model, topo), isolation_assets(model, topo)
