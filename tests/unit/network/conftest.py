"""Shared fixtures for the network model tests (WNTR's shipped networks, a small demo city)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from waternet.demo.city import build_demo_city
from waternet.network.model import NetworkModel


def wntr_network(name: str) -> Path:
    return Path(str(files("wntr") / "library" / "networks" / f"{name}.inp"))


@pytest.fixture(scope="session")
def demo_small() -> NetworkModel:
    return build_demo_city("small", seed=7)


@pytest.fixture
def demo_small_copy(demo_small: NetworkModel) -> NetworkModel:
    return NetworkModel.from_dict(demo_small.to_dict())


TINY_INP = """[TITLE]
tiny
[JUNCTIONS]
J1 10 1
J2 10 1
J3 10 1
J4 10 1
[RESERVOIRS]
R1 50
[PIPES]
P1 R1 J1 100 300 100 0 Open
P2 J1 J2 100 200 100 0 Open
P3 J2 J3 100 200 100 0 Open
P4 J3 J4 100 200 100 0 Open
P5 J4 J1 100 200 100 0 Open
[COORDINATES]
R1 0 0
J1 100 0
J2 200 0
J3 200 100
J4 100 100
[OPTIONS]
Units LPS
[END]
"""


def tiny_model() -> NetworkModel:
    """A valid 5-node loop network with one of every asset kind."""
    from waternet.network.importers import import_inp
    from waternet.network.model import (
        DMA,
        BoundaryMeter,
        Customer,
        Hydrant,
        IsolationValve,
        SensorSite,
    )

    model, report = import_inp(TINY_INP, crs="local", scale=1.0, name="tiny")
    assert report.ok
    model.valves = [
        IsolationValve(id="V1", link="P2", node="J1", diameter_mm=200.0),
        IsolationValve(id="V2", link="P2", node="J2", operable=False),
    ]
    model.hydrants = [Hydrant(id="H1", node="J2")]
    model.customers = [
        Customer(account="A1", node="J3"),
        Customer(account="A2", link="P4", customer_class="hospital"),
    ]
    ll = model.node_array("lonlat")
    x0, y0 = ll.min(axis=0) - 1e-3
    x1, y1 = ll.max(axis=0) + 1e-3
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y0]]
    model.dmas = [
        DMA(
            code="D01",
            geometry={"type": "Polygon", "coordinates": [ring]},
            boundary_meters=[BoundaryMeter(link="P1", inflow=1)],
        )
    ]
    for n in model.nodes:
        if n.kind == "junction":
            n.dma = "D01"
    model.sensors = [
        SensorSite(code="PT-D01-000001", kind="PT", node="J3", dma="D01"),
        SensorSite(code="FT-D01-000001", kind="FT", link="P1", dma="D01"),
    ]
    model.reindex()
    return model
