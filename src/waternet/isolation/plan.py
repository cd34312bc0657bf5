"""Result objects of the isolation engine, with their JSON and GeoJSON forms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from waternet.network.topology import Topology

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class NetworkState:
    """Live valve state a plan starts from: valves closed (by other active plans or reported
    closed by crews) and valves reported broken (they do not hold, whatever their position)."""

    closed: frozenset[str] = frozenset()
    broken: frozenset[str] = frozenset()

    @property
    def is_default(self) -> bool:
        return not self.closed and not self.broken


@dataclass(frozen=True)
class PassedValve:
    valve: str
    reason: str  # "inoperable" | "stuck" | "broken"


@dataclass(frozen=True)
class Step:
    order: int
    valve: str
    link: str
    node: str
    diameter_mm: float | None
    xy: tuple[float, float] | None
    supply_side: bool
    customers_supplied: int | None = None
    critical_supplied: int | None = None


@dataclass(frozen=True)
class RestoreStep:
    stage: int
    valve: str
    note: str
    customers_supplied: int | None = None


@dataclass(frozen=True)
class AffectedCustomer:
    account: str
    klass: str
    critical: bool
    status: str  # "isolated" | "cut_off"
    node: str | None
    link: str | None


@dataclass(frozen=True)
class Consequences:
    customers: list[AffectedCustomer]  # critical first
    by_class: dict[str, int]
    critical_count: int
    hydrants_out_of_service: list[str]
    sensors_reading_zero: list[str]
    isolated_pipe_length_m: float
    isolated_volume_m3: float
    cut_off_pipe_length_m: float
    dmas_touched: list[str]
    # customers and pipes already without supply before the plan (not counted above)
    unsupplied_before_customers: int = 0
    unsupplied_before_critical_count: int = 0
    unsupplied_before_pipe_length_m: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "customers": [
                {
                    "account": c.account,
                    "class": c.klass,
                    "critical": c.critical,
                    "status": c.status,
                    "node": c.node,
                    "link": c.link,
                }
                for c in self.customers
            ],
            "count": len(self.customers),
            "by_class": dict(self.by_class),
            "critical_count": self.critical_count,
            "hydrants_out_of_service": list(self.hydrants_out_of_service),
            "sensors_reading_zero": list(self.sensors_reading_zero),
            "isolated_pipe_length_m": round(self.isolated_pipe_length_m, 3),
            "isolated_volume_m3": round(self.isolated_volume_m3, 3),
            "cut_off_pipe_length_m": round(self.cut_off_pipe_length_m, 3),
            "dmas_touched": list(self.dmas_touched),
            "unsupplied_before_customers": self.unsupplied_before_customers,
            "unsupplied_before_critical_count": self.unsupplied_before_critical_count,
            "unsupplied_before_pipe_length_m": round(self.unsupplied_before_pipe_length_m, 3),
        }


@dataclass(eq=False)
class IsolationPlan:
    """Closure plan for one burst. Lists of ids; ``valves_to_close`` is in operation order."""

    topology: Topology
    burst: dict[str, str]
    valves_to_close: list[str]
    steps: list[Step]
    already_closed: list[str]
    not_needed: list[dict[str, str]]
    passed_valves: list[PassedValve]
    isolated_elements: I64
    cut_off_elements: I64
    consequences: Consequences | None
    restore: list[RestoreStep]
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    window: tuple[str, str] | None = None
    what_if: dict[str, IsolationPlan] | None = None
    valve_nodes: dict[str, str] = field(default_factory=dict)  # passed valve -> node id
    # everything inside the closed valves (sorted elements) and its segments
    area_elements: I64 | None = None
    area_segments: list[int] = field(default_factory=list)
    # outside the area and without supply before the plan (closed valves or pipes, or only
    # reachable against pumps / check valves): already dry, not cut off by this plan
    unsupplied_before_elements: I64 | None = None

    # ------------------------------------------------------------------ id lists
    def _split(self, elems: I64) -> tuple[list[str], list[str]]:
        return self.topology.element_ids(elems)

    @property
    def isolated_nodes(self) -> list[str]:
        return self._split(self.isolated_elements)[0]

    @property
    def isolated_links(self) -> list[str]:
        return self._split(self.isolated_elements)[1]

    @property
    def cut_off_nodes(self) -> list[str]:
        return self._split(self.cut_off_elements)[0]

    @property
    def cut_off_links(self) -> list[str]:
        return self._split(self.cut_off_elements)[1]

    @property
    def unsupplied_before_nodes(self) -> list[str]:
        return self._split(self._unsupplied_before())[0]

    @property
    def unsupplied_before_links(self) -> list[str]:
        return self._split(self._unsupplied_before())[1]

    def _unsupplied_before(self) -> I64:
        e = self.unsupplied_before_elements
        return np.zeros(0, dtype=np.int64) if e is None else e

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        iso_n, iso_l = self._split(self.isolated_elements)
        cut_n, cut_l = self._split(self.cut_off_elements)
        dry_n, dry_l = self._split(self._unsupplied_before())
        out: dict[str, Any] = {
            "burst": dict(self.burst),
            "valves_to_close": list(self.valves_to_close),
            "steps": [_step_json(s) for s in self.steps],
            "already_closed": list(self.already_closed),
            "not_needed": [dict(x) for x in self.not_needed],
            "passed_valves": [{"valve": p.valve, "reason": p.reason} for p in self.passed_valves],
            "stuck": list(self.stuck),
            "area_segments": len(self.area_segments),
            "isolated_nodes": iso_n,
            "isolated_links": iso_l,
            "cut_off_nodes": cut_n,
            "cut_off_links": cut_l,
            "unsupplied_before_nodes": dry_n,
            "unsupplied_before_links": dry_l,
            "restore": [
                {
                    "stage": r.stage,
                    "valve": r.valve,
                    "note": r.note,
                    "customers_supplied": r.customers_supplied,
                }
                for r in self.restore
            ],
            "conflicts": list(self.conflicts),
            "warnings": list(self.warnings),
        }
        if self.window is not None:
            out["window"] = {"start": self.window[0], "end": self.window[1]}
        if self.consequences is not None:
            c = self.consequences.to_json()
            out["affected_customers"] = c["customers"]
            out["consequences"] = {k: v for k, v in c.items() if k != "customers"}
        if self.what_if is not None:
            out["what_if"] = {
                v: {
                    "valves_to_close": p.valves_to_close,
                    "passed_valves": [q.valve for q in p.passed_valves],
                    "isolated_links": len(p.isolated_links),
                    "cut_off_links": len(p.cut_off_links),
                    "affected_customers": None
                    if p.consequences is None
                    else len(p.consequences.customers),
                }
                for v, p in self.what_if.items()
            }
        return out

    # ------------------------------------------------------------------ GeoJSON
    def to_geojson(self, coords: Mapping[str, Sequence[float]] | None = None) -> dict[str, Any]:
        """FeatureCollection: valves to close (Point, with order), passed valves, isolated,
        cut-off and already unsupplied links (LineString), affected customers (Point).
        ``coords`` maps node id to (x, y); default: the topology's own coordinates."""
        t = self.topology
        xy = _coords(t, coords)
        feats: list[dict[str, Any]] = []
        for s in self.steps:
            p = xy(t.node_index[s.node])
            if p is not None:
                feats.append(_point(p, {"role": "valve_to_close", **_step_json(s)}))
        for pv in self.passed_valves:
            step_node = self.valve_nodes.get(pv.valve)
            if step_node is not None:
                p = xy(t.node_index[step_node])
                if p is not None:
                    feats.append(
                        _point(p, {"role": "passed_valve", "valve": pv.valve, "reason": pv.reason})
                    )
        layers = (
            ("isolated", self.isolated_elements),
            ("cut_off", self.cut_off_elements),
            ("unsupplied_before", self._unsupplied_before()),
        )
        for role, elems in layers:
            for j in (elems[elems >= t.n_nodes] - t.n_nodes).tolist():
                a = xy(int(t.link_start[j]))
                b = xy(int(t.link_end[j]))
                if a is None or b is None:
                    continue
                feats.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": [list(a), list(b)]},
                        "properties": {"role": role, "link": t.link_ids[j]},
                    }
                )
        if self.consequences is not None:
            for c in self.consequences.customers:
                if c.node is not None:
                    p = xy(t.node_index[c.node])
                else:
                    j = t.link_index[str(c.link)]
                    a, b = xy(int(t.link_start[j])), xy(int(t.link_end[j]))
                    p = None if a is None or b is None else ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                if p is not None:
                    feats.append(
                        _point(
                            p,
                            {
                                "role": "affected_customer",
                                "account": c.account,
                                "class": c.klass,
                                "critical": c.critical,
                                "status": c.status,
                            },
                        )
                    )
        return {"type": "FeatureCollection", "features": feats}


def _step_json(s: Step) -> dict[str, Any]:
    return {
        "order": s.order,
        "valve": s.valve,
        "link": s.link,
        "node": s.node,
        "diameter_mm": s.diameter_mm,
        "xy": None if s.xy is None else list(s.xy),
        "supply_side": s.supply_side,
        "customers_supplied": s.customers_supplied,
        "critical_supplied": s.critical_supplied,
    }


def _point(p: tuple[float, float], props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [p[0], p[1]]},
        "properties": props,
    }


def _coords(t: Topology, coords: Mapping[str, Sequence[float]] | None) -> Any:
    def lookup(i: int) -> tuple[float, float] | None:
        if coords is not None:
            c = coords.get(t.node_ids[i])
            return None if c is None else (float(c[0]), float(c[1]))
        if t.node_xy is None:
            return None
        x, y = float(t.node_xy[i, 0]), float(t.node_xy[i, 1])
        return None if math.isnan(x) or math.isnan(y) else (x, y)

    return lookup
