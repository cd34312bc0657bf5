"""The compact graph of one network version: integer-indexed nodes and links over NumPy arrays.

Pure module (no database, no web framework). The isolation engine and the network model both
build on :class:`Topology`; the hydraulic conventions used everywhere are fixed here:

* ``link_kind``: ``PIPE`` (0), ``PUMP`` (1), ``VALVE`` (2 = control valve PRV/PSV/FCV/TCV/GPV/PBV).
* ``link_oneway``: the link carries water from its start node to its end node only (pumps,
  check-valve pipes, PRVs and PSVs).
* ``link_closed``: a *pipe* whose initial status is Closed; it carries no water. Pumps and
  control valves are never closed here (controls switch them).
* ``node_is_source``: reservoirs and tanks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import networkx as nx
import numpy as np
import numpy.typing as npt

from waternet.errors import ValidationFailed

PIPE = 0
PUMP = 1
VALVE = 2
JUNCTION = 0
RESERVOIR = 1
TANK = 2

LINK_KIND_NAMES = {PIPE: "pipe", PUMP: "pump", VALVE: "valve"}
NODE_KIND_NAMES = {JUNCTION: "junction", RESERVOIR: "reservoir", TANK: "tank"}
ONEWAY_VALVE_TYPES = frozenset({"PRV", "PSV"})

IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Topology:
    """Integer-indexed network graph. Build with :meth:`build` or :meth:`from_wntr`."""

    node_ids: list[str]
    link_ids: list[str]
    node_index: dict[str, int]
    link_index: dict[str, int]
    link_start: IntArray
    link_end: IntArray
    link_kind: npt.NDArray[np.int8]
    link_oneway: BoolArray
    link_closed: BoolArray
    link_length_m: FloatArray
    link_diameter_m: FloatArray
    node_is_source: BoolArray
    node_kind: npt.NDArray[np.int8]
    node_xy: FloatArray | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """A form derived from this topology (built once, on first use; a race builds it twice
        and keeps one, which is harmless for these pure derivations). ``key`` names the form
        with the deriving module, e.g. ``"isolation.element_graph"``."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]  # type: ignore[no-any-return]

    def element_ids(self, elems: npt.NDArray[np.integer[Any]]) -> tuple[list[str], list[str]]:
        """Node ids and link ids of element indices (node ``i``, link ``n_nodes + j``), in the
        order given; vectorised, for the long element lists of large networks."""
        n = self.n_nodes
        node_ids = self.derived("network.node_id_array", lambda: np.array(self.node_ids, object))
        link_ids = self.derived("network.link_id_array", lambda: np.array(self.link_ids, object))
        return (
            node_ids[elems[elems < n]].tolist(),
            link_ids[elems[elems >= n] - n].tolist(),
        )

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def build(
        cls,
        *,
        node_ids: Sequence[str],
        node_kind: Sequence[int] | npt.ArrayLike,
        link_ids: Sequence[str],
        link_start_ids: Sequence[str],
        link_end_ids: Sequence[str],
        link_kind: Sequence[int] | npt.ArrayLike,
        link_oneway: Sequence[bool] | npt.ArrayLike,
        link_closed: Sequence[bool] | npt.ArrayLike,
        length_m: Sequence[float] | npt.ArrayLike,
        diameter_m: Sequence[float] | npt.ArrayLike,
        xy: npt.ArrayLike | None = None,
    ) -> Topology:
        """Build from plain sequences (ids are strings); raises ValidationFailed listing every
        problem (duplicate ids, unknown end nodes, bad kinds, length mismatches)."""
        problems: list[str] = []
        nodes = [str(n) for n in node_ids]
        links = [str(k) for k in link_ids]
        node_index: dict[str, int] = {}
        for i, nid in enumerate(nodes):
            if nid in node_index:
                problems.append(f"duplicate node id {nid!r}")
            else:
                node_index[nid] = i
        link_index: dict[str, int] = {}
        for i, k in enumerate(links):
            if k in link_index:
                problems.append(f"duplicate link id {k!r}")
            else:
                link_index[k] = i
        m = len(links)
        n = len(nodes)
        starts = list(link_start_ids)
        ends = list(link_end_ids)
        arrays: dict[str, Any] = {
            "link_start_ids": starts,
            "link_end_ids": ends,
            "link_kind": np.asarray(link_kind, dtype=np.int8).reshape(-1),
            "link_oneway": np.asarray(link_oneway, dtype=bool).reshape(-1),
            "link_closed": np.asarray(link_closed, dtype=bool).reshape(-1),
            "length_m": np.asarray(length_m, dtype=np.float64).reshape(-1),
            "diameter_m": np.asarray(diameter_m, dtype=np.float64).reshape(-1),
        }
        for name, arr in arrays.items():
            if len(arr) != m:
                problems.append(f"{name} has {len(arr)} entries, expected {m} (one per link)")
        nk = np.asarray(node_kind, dtype=np.int8).reshape(-1)
        if len(nk) != n:
            problems.append(f"node_kind has {len(nk)} entries, expected {n} (one per node)")
        elif n and (nk.min() < JUNCTION or nk.max() > TANK):
            problems.append("node_kind values must be 0 (junction), 1 (reservoir) or 2 (tank)")
        lk = arrays["link_kind"]
        if len(lk) == m and m and (lk.min() < PIPE or lk.max() > VALVE):
            problems.append("link_kind values must be 0 (pipe), 1 (pump) or 2 (valve)")
        xy_arr: FloatArray | None = None
        if xy is not None:
            xy_arr = np.asarray(xy, dtype=np.float64)
            if xy_arr.shape != (n, 2):
                problems.append(f"xy has shape {xy_arr.shape}, expected ({n}, 2)")
        start = np.zeros(m, dtype=np.int32)
        end = np.zeros(m, dtype=np.int32)
        if len(starts) == m and len(ends) == m:
            for i in range(m):
                s = node_index.get(str(starts[i]))
                e = node_index.get(str(ends[i]))
                if s is None:
                    problems.append(f"link {links[i]!r}: unknown start node {starts[i]!r}")
                if e is None:
                    problems.append(f"link {links[i]!r}: unknown end node {ends[i]!r}")
                start[i] = -1 if s is None else s
                end[i] = -1 if e is None else e
        if problems:
            raise ValidationFailed("invalid network topology", details=problems)
        closed = arrays["link_closed"] & (lk == PIPE)
        return cls(
            node_ids=nodes,
            link_ids=links,
            node_index=node_index,
            link_index=link_index,
            link_start=start,
            link_end=end,
            link_kind=lk,
            link_oneway=arrays["link_oneway"].copy(),
            link_closed=closed,
            link_length_m=arrays["length_m"],
            link_diameter_m=arrays["diameter_m"],
            node_is_source=nk != JUNCTION,
            node_kind=nk,
            node_xy=xy_arr,
        )

    @classmethod
    def from_wntr(cls, wn: Any) -> Topology:
        """Build from a ``wntr.network.WaterNetworkModel`` (units are SI: metres)."""
        node_ids: list[str] = []
        node_kind: list[int] = []
        xy: list[tuple[float, float]] = []
        has_xy = True
        for name, node in wn.nodes():
            node_ids.append(str(name))
            t = node.node_type
            node_kind.append(RESERVOIR if t == "Reservoir" else TANK if t == "Tank" else JUNCTION)
            c = getattr(node, "coordinates", None)
            if c is None or len(c) != 2:
                has_xy = False
                xy.append((np.nan, np.nan))
            else:
                xy.append((float(c[0]), float(c[1])))
        link_ids: list[str] = []
        s_ids: list[str] = []
        e_ids: list[str] = []
        kinds: list[int] = []
        oneway: list[bool] = []
        closed: list[bool] = []
        length: list[float] = []
        diam: list[float] = []
        for name, link in wn.links():
            link_ids.append(str(name))
            s_ids.append(str(link.start_node_name))
            e_ids.append(str(link.end_node_name))
            lt = link.link_type
            if lt == "Pipe":
                kinds.append(PIPE)
                oneway.append(bool(link.check_valve))
                closed.append(str(link.initial_status) == "Closed")
                length.append(float(link.length))
                diam.append(float(link.diameter))
            elif lt == "Pump":
                kinds.append(PUMP)
                oneway.append(True)
                closed.append(False)
                length.append(0.0)
                diam.append(float("nan"))
            else:
                kinds.append(VALVE)
                oneway.append(str(getattr(link, "valve_type", "")).upper() in ONEWAY_VALVE_TYPES)
                closed.append(False)
                length.append(0.0)
                diam.append(float(getattr(link, "diameter", float("nan"))))
        return cls.build(
            node_ids=node_ids,
            node_kind=node_kind,
            link_ids=link_ids,
            link_start_ids=s_ids,
            link_end_ids=e_ids,
            link_kind=kinds,
            link_oneway=oneway,
            link_closed=closed,
            length_m=length,
            diameter_m=diam,
            xy=np.asarray(xy, dtype=np.float64).reshape(-1, 2) if has_xy and xy else None,
        )

    @classmethod
    def from_inp(cls, path: str) -> Topology:
        """Read an EPANET .inp file with WNTR's reader."""
        import wntr  # local import: heavy

        return cls.from_wntr(wntr.network.WaterNetworkModel(str(path)))

    # ------------------------------------------------------------------ views
    def to_networkx(self) -> nx.MultiDiGraph[str]:
        """A MultiDiGraph keyed by ids (edge key = link id), as ``wn.to_graph()`` would give."""
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        for i, n in enumerate(self.node_ids):
            attrs: dict[str, Any] = {
                "kind": NODE_KIND_NAMES[int(self.node_kind[i])],
                "source": bool(self.node_is_source[i]),
            }
            if self.node_xy is not None:
                attrs["pos"] = (float(self.node_xy[i, 0]), float(self.node_xy[i, 1]))
            g.add_node(n, **attrs)
        for j, k in enumerate(self.link_ids):
            g.add_edge(
                self.node_ids[int(self.link_start[j])],
                self.node_ids[int(self.link_end[j])],
                key=k,
                kind=LINK_KIND_NAMES[int(self.link_kind[j])],
                oneway=bool(self.link_oneway[j]),
                closed=bool(self.link_closed[j]),
                length_m=float(self.link_length_m[j]),
                diameter_m=float(self.link_diameter_m[j]),
            )
        return g

    def link_midpoints(self) -> FloatArray | None:
        """(m, 2) midpoints of the straight start-end segments, or None without coordinates."""
        if self.node_xy is None:
            return None
        return (self.node_xy[self.link_start] + self.node_xy[self.link_end]) / 2.0

    def nearest_link(self, x: float, y: float, *, pipes_only: bool = True) -> str:
        """Id of the link whose straight start-end segment is nearest to (x, y)."""
        if self.node_xy is None:
            raise ValidationFailed("the network has no node coordinates", details=[])
        a = self.node_xy[self.link_start]
        b = self.node_xy[self.link_end]
        ab = b - a
        p = np.array([x, y], dtype=np.float64)
        den = np.einsum("ij,ij->i", ab, ab)
        t = np.divide(np.einsum("ij,ij->i", p - a, ab), den, out=np.zeros(len(den)), where=den > 0)
        t = np.clip(t, 0.0, 1.0)
        d2 = np.sum((a + ab * t[:, None] - p) ** 2, axis=1)
        if pipes_only:
            d2 = np.where(self.link_kind == PIPE, d2, np.inf)
        if len(d2) == 0 or not np.isfinite(d2).any():
            raise ValidationFailed("the network has no pipes", details=[])
        return self.link_ids[int(np.nanargmin(d2))]
