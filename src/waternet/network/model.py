"""The content of one network version: nodes, links, isolation valves, hydrants, customers,
district metered areas and sensor sites.

Plain dataclasses, JSON-serialisable with :meth:`NetworkModel.to_dict` /
:meth:`NetworkModel.from_dict` (a document) or per element (rows). Element lists may hold
problems (duplicate ids, dangling references): :func:`waternet.network.validation.validate_model`
finds them all; importers refuse a model whose report has errors.

Units: metres, cubic metres per second, WGS84 degrees. ``x``/``y`` are metres in ``model.crs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from waternet.errors import NotFound, ValidationFailed
from waternet.network.elements import (
    CONTROL_VALVE_TYPES,
    CRITICAL_CLASSES,
    CUSTOMER_CLASSES,
    DMA,
    FORMAT,
    LINK_KINDS,
    LINK_STATUSES,
    NO_ZONE,
    NODE_KINDS,
    ONEWAY_VALVE_TYPES,
    SENSOR_CODE_RE,
    SENSOR_KINDS,
    SOURCE_KINDS,
    VALVE_NORMAL,
    ZONE_RE,
    BoundaryMeter,
    Customer,
    Hydrant,
    IsolationValve,
    Link,
    Node,
    SensorSite,
    element_from_dict,
    element_to_dict,
    sensor_code,
)
from waternet.network.topology import JUNCTION, PIPE, PUMP, RESERVOIR, TANK, VALVE, Topology

_NODE_KIND = {"junction": JUNCTION, "reservoir": RESERVOIR, "tank": TANK}
_LINK_KIND = {"pipe": PIPE, "pump": PUMP, "valve": VALVE}


__all__ = [
    "CONTROL_VALVE_TYPES",
    "CRITICAL_CLASSES",
    "CUSTOMER_CLASSES",
    "DMA",
    "FORMAT",
    "LINK_KINDS",
    "LINK_STATUSES",
    "NODE_KINDS",
    "NO_ZONE",
    "ONEWAY_VALVE_TYPES",
    "SENSOR_CODE_RE",
    "SENSOR_KINDS",
    "SOURCE_KINDS",
    "VALVE_NORMAL",
    "ZONE_RE",
    "BoundaryMeter",
    "Customer",
    "Hydrant",
    "IsolationValve",
    "Link",
    "NetworkModel",
    "Node",
    "SensorSite",
    "element_from_dict",
    "element_to_dict",
    "sensor_code",
]

SECTIONS: tuple[tuple[str, type], ...] = (
    ("nodes", Node),
    ("links", Link),
    ("valves", IsolationValve),
    ("hydrants", Hydrant),
    ("customers", Customer),
    ("dmas", DMA),
    ("sensors", SensorSite),
)
_KEY = {"customers": "account", "dmas": "code", "sensors": "code"}


@dataclass
class NetworkModel:
    """One network version's content. Treat as immutable once built; after editing the element
    lists in place call :meth:`reindex`."""

    name: str
    crs: str
    nodes: list[Node] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    valves: list[IsolationValve] = field(default_factory=list)
    hydrants: list[Hydrant] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    dmas: list[DMA] = field(default_factory=list)
    sensors: list[SensorSite] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ----- lookups -------------------------------------------------------------------------
    def reindex(self) -> None:
        self._cache.clear()

    def _index(self, section: str) -> dict[str, Any]:
        items: list[Any] = getattr(self, section)
        cached = self._cache.get(section)
        if cached is not None and cached[0] == len(items):
            return cached[1]  # type: ignore[no-any-return]
        key = _KEY.get(section, "id")
        idx: dict[str, Any] = {}
        for item in items:
            idx.setdefault(getattr(item, key), item)
        self._cache[section] = (len(items), idx)
        return idx

    @property
    def node_by_id(self) -> dict[str, Node]:
        return self._index("nodes")

    @property
    def link_by_id(self) -> dict[str, Link]:
        return self._index("links")

    @property
    def valve_by_id(self) -> dict[str, IsolationValve]:
        return self._index("valves")

    @property
    def hydrant_by_id(self) -> dict[str, Hydrant]:
        return self._index("hydrants")

    @property
    def customer_by_account(self) -> dict[str, Customer]:
        return self._index("customers")

    @property
    def dma_by_code(self) -> dict[str, DMA]:
        return self._index("dmas")

    @property
    def sensor_by_code(self) -> dict[str, SensorSite]:
        return self._index("sensors")

    def node(self, node_id: str) -> Node:
        try:
            return self.node_by_id[node_id]
        except KeyError:
            raise NotFound(f"node {node_id!r} not in network {self.name!r}") from None

    def link(self, link_id: str) -> Link:
        try:
            return self.link_by_id[link_id]
        except KeyError:
            raise NotFound(f"link {link_id!r} not in network {self.name!r}") from None

    @property
    def sources(self) -> list[Node]:
        return [n for n in self.nodes if n.is_source]

    @property
    def pipes(self) -> list[Link]:
        return [lk for lk in self.links if lk.kind == "pipe"]

    def counts(self) -> dict[str, int]:
        """Element counts, for ``waternet network info``."""
        out = {s: len(getattr(self, s)) for s, _ in SECTIONS}
        for k in NODE_KINDS:
            out[f"{k}s"] = sum(1 for n in self.nodes if n.kind == k)
        for k, key in (("pipe", "pipes"), ("pump", "pumps"), ("valve", "control_valves")):
            out[key] = sum(1 for lk in self.links if lk.kind == k)
        out["critical_customers"] = sum(1 for c in self.customers if c.critical)
        return out

    def summary(self) -> dict[str, Any]:
        """Name, CRS, element counts, total pipe length and WGS84 bounds (``network info``)."""
        ll = self.node_array("lonlat")
        ok = ~np.isnan(ll).any(axis=1)
        bounds = None
        if ok.any():
            lo, hi = ll[ok].min(axis=0), ll[ok].max(axis=0)
            bounds = [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]
        return {
            "name": self.name,
            "crs": self.crs,
            "counts": self.counts(),
            "pipe_length_km": round(self.total_pipe_length_m() / 1000.0, 3),
            "bounds_lonlat": bounds,
        }

    def node_array(self, what: str = "xy") -> NDArray[np.float64]:
        """(n, 2) array of node ``xy`` metres or ``lonlat`` degrees in node order (NaN where
        missing)."""
        a, b = ("x", "y") if what == "xy" else ("lon", "lat")
        out = np.full((len(self.nodes), 2), np.nan)
        for i, n in enumerate(self.nodes):
            u, v = getattr(n, a), getattr(n, b)
            if u is not None and v is not None:
                out[i] = (u, v)
        return out

    def total_pipe_length_m(self) -> float:
        return float(sum(lk.length_m for lk in self.links if lk.kind == "pipe"))

    # ----- conversions ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (``json.dumps`` works on it)."""
        doc: dict[str, Any] = {"format": FORMAT, "name": self.name, "crs": self.crs}
        for section, _ in SECTIONS:
            doc[section] = [element_to_dict(e) for e in getattr(self, section)]
        doc["meta"] = dict(self.meta)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> NetworkModel:
        fmt = doc.get("format", FORMAT)
        if fmt != FORMAT:
            raise ValidationFailed(f"unsupported network document format {fmt!r}")
        kwargs: dict[str, Any] = {}
        for section, etype in SECTIONS:
            kwargs[section] = [element_from_dict(etype, d) for d in doc.get(section, [])]
        return cls(
            name=str(doc["name"]), crs=str(doc["crs"]), meta=dict(doc.get("meta", {})), **kwargs
        )

    def to_topology(self) -> Topology:
        """Compact arrays in model order (node i = ``model.nodes[i]``, link j = ``model.links[j]``).

        ``node_xy`` holds the projected metres when every node has coordinates. Raises
        :class:`~waternet.errors.ValidationFailed` on duplicate ids or unknown end nodes.
        """
        nodes, links = self.nodes, self.links
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
