"""Shared helpers: reference networks from WNTR's package and a small network builder."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import strategies as st

from waternet.network.topology import PIPE, PUMP, Topology
from waternet.network.valves import ValveLayer


def net_path(name: str) -> Path:
    return Path(str(files("wntr") / "library" / "networks" / f"{name}.inp"))


@pytest.fixture(scope="session")
def net3_path() -> Path:
    return net_path("Net3")


def small_topology(
    n_nodes: int,
    links: list[tuple[int, int]],
    *,
    sources: tuple[int, ...] = (0,),
    kinds: list[int] | None = None,
    oneway: list[bool] | None = None,
    closed: list[bool] | None = None,
) -> Topology:
    m = len(links)
    kinds = kinds or [PIPE] * m
    return Topology.build(
        node_ids=[f"N{i}" for i in range(n_nodes)],
        node_kind=[1 if i in sources else 0 for i in range(n_nodes)],
        link_ids=[f"P{j}" for j in range(m)],
        link_start_ids=[f"N{a}" for a, _ in links],
        link_end_ids=[f"N{b}" for _, b in links],
        link_kind=kinds,
        link_oneway=oneway if oneway is not None else [k == PUMP for k in kinds],
        link_closed=closed or [False] * m,
        length_m=[100.0] * m,
        diameter_m=[0.2] * m,
        xy=[(float(i), float(i % 3)) for i in range(n_nodes)],
    )


def reference_supplied(
    topo: Topology,
    closed_valve_incidences: set[tuple[int, int]],
    sources: list[int],
    *,
    burst: int | None = None,
) -> set[tuple[str, int]]:
    """Independent NetworkX reference: elements ("n", i) / ("l", j) reachable from ``sources``
    with the issue's direction rules; ``closed_valve_incidences`` holds (link, node) pairs.
    ``burst``: a ruptured pipe (link index); it takes water in from each of its end nodes
    whose incidence no valve closes, whatever its check valve or initial status."""
    g = nx.DiGraph()
    for i in range(topo.n_nodes):
        g.add_node(("n", i))
    for j in range(topo.n_links):
        g.add_node(("l", j))
        if topo.link_closed[j]:
            continue
        s, e = int(topo.link_start[j]), int(topo.link_end[j])
        selfloop = s == e
        for end_node, is_start in ((s, True), (e, False)):
            if (j, end_node) in closed_valve_incidences and not (selfloop and not is_start):
                continue
            if is_start or not topo.link_oneway[j]:
                g.add_edge(("n", end_node), ("l", j))
            if (not is_start) or not topo.link_oneway[j]:
                g.add_edge(("l", j), ("n", end_node))
    if burst is not None:
        s, e = int(topo.link_start[burst]), int(topo.link_end[burst])
        for end_node, is_start in ((s, True), (e, False)):
            if (burst, end_node) in closed_valve_incidences and not (s == e and not is_start):
                continue
            g.add_edge(("n", end_node), ("l", burst))
    reach: set[tuple[str, int]] = set()
    for s in sources:
        reach.add(("n", s))
        reach |= nx.descendants(g, ("n", s))
    return reach


def elems_to_keys(topo: Topology, elems: np.ndarray) -> set[tuple[str, int]]:
    n = topo.n_nodes
    return {("n", int(e)) if e < n else ("l", int(e) - n) for e in elems.tolist()}


def draw_valve_rows(draw: Any, links: list[tuple[int, int]]) -> list[dict[str, str]]:
    """A random valve layer for ``small_topology(links)``: a valve at ~60 % of link ends, ~20 %
    inoperable, ~10 % normally closed (for hypothesis ``@st.composite`` strategies)."""
    rows: list[dict[str, str]] = []
    for j, (a, b) in enumerate(links):
        for nd in {a, b}:
            if draw(st.integers(0, 9)) < 6:
                rows.append(
                    {
                        "valve": f"V{len(rows)}",
                        "link": f"P{j}",
                        "node": f"N{nd}",
                        "operable": "true" if draw(st.integers(0, 9)) < 8 else "false",
                        "normal": "open" if draw(st.integers(0, 9)) < 9 else "closed",
                    }
                )
    return rows


def closed_pairs(layer: ValveLayer, valve_ids: list[str]) -> set[tuple[int, int]]:
    """(link, node) pairs closed: the layer's normally closed valves plus ``valve_ids``."""
    out = {(int(layer.link[i]), int(layer.node[i])) for i in np.flatnonzero(~layer.normal_open)}
    for v in valve_ids:
        i = layer.valve_index[v]
        out.add((int(layer.link[i]), int(layer.node[i])))
    return out
