"""Validation of a network model: every problem, not only the first.

Each :class:`Issue` has a severity (``error`` stops an import, ``warning`` is kept with the
version), a stable ``code``, the layer and element id it concerns, and a message. Issue codes:

========================  ========  =======================================================
code                      severity  meaning
========================  ========  =======================================================
duplicate_id              error     two elements of one layer share an id / account / code
unknown_node              error     a reference to a node id that does not exist
unknown_link              error     a reference to a link id that does not exist
unknown_dma               error     a reference to a DMA code that does not exist
valve_not_at_link_end     error     a valve's node is not an end node of its link
duplicate_valve           warning   two valves on the same (link, node) pair
self_loop                 error     a link whose two ends are the same node
zero_length               error     a pipe of length <= 0
bad_value                 error     a negative / non-finite number, unknown kind/status/class
missing_coordinates       error     a node without lon/lat/x/y
bad_geometry              error     unreadable or invalid geometry (importers, DMA polygons)
no_source                 error     no reservoir or tank at all
unsupplied_component      warning   a connected part of the network holding no source
unattached                error     a customer/sensor at neither a node nor a link, or a
                                    customer at both (exactly one is required)
bad_sensor_code           error     sensor code not ``<KIND>-<ZONE>-<NNNNNN>`` or kind differs
sensor_zone_mismatch      warning   code zone differs from the sensor's DMA (or X)
bad_dma_code              error     DMA code not 1-8 upper-case alphanumerics (or is X)
missing_field             error     importers: a required attribute / layer is missing
ignored_layer             warning   importers: a layer that is not used
========================  ========  =======================================================
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from waternet.errors import ValidationFailed
from waternet.network.model import (
    CUSTOMER_CLASSES,
    LINK_KINDS,
    LINK_STATUSES,
    NO_ZONE,
    NODE_KINDS,
    SENSOR_CODE_RE,
    SENSOR_KINDS,
    VALVE_NORMAL,
    ZONE_RE,
    NetworkModel,
)

Severity = Literal["error", "warning"]
MAX_LISTED = 10_000  # a report keeps at most this many issues of one code (the count is exact)


@dataclass(frozen=True)
class Issue:
    severity: Severity
    code: str
    element: str
    message: str
    layer: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    truncated: Counter[str] = field(default_factory=Counter)  # issues not listed, by code
    truncated_errors: int = 0
    _counts: Counter[str] = field(default_factory=Counter, repr=False, compare=False)

    def add(
        self, severity: Severity, code: str, element: str, message: str, layer: str = ""
    ) -> None:
        self._counts[code] += 1
        if self._counts[code] > MAX_LISTED:
            self.truncated[code] += 1
            self.truncated_errors += severity == "error"
            return
        self.issues.append(Issue(severity, code, str(element), message, layer))

    def error(self, code: str, element: str, message: str, layer: str = "") -> None:
        self.add("error", code, element, message, layer)

    def warning(self, code: str, element: str, message: str, layer: str = "") -> None:
        self.add("warning", code, element, message, layer)

    def extend(self, other: ValidationReport) -> None:
        for i in other.issues:
            self.add(i.severity, i.code, i.element, i.message, i.layer)
        self.truncated.update(other.truncated)
        self.truncated_errors += other.truncated_errors

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.truncated_errors == 0 and not any(i.severity == "error" for i in self.issues)

    def codes(self) -> Counter[str]:
        c = Counter(i.code for i in self.issues)
        c.update(self.truncated)
        return c

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "truncated": dict(self.truncated),
            "truncated_errors": self.truncated_errors,
            "issues": [i.to_dict() for i in self.issues],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ValidationReport:
        rep = cls()
        for d in doc.get("issues", []):
            rep.add(d["severity"], d["code"], d["element"], d["message"], d.get("layer", ""))
        rep.truncated.update(doc.get("truncated", {}))
        rep.truncated_errors = int(doc.get("truncated_errors", 0))
        return rep

    def raise_if_errors(self, what: str = "network import") -> None:
        """Raise :class:`ValidationFailed` listing every issue (errors and warnings)."""
        errs = self.errors
        if errs or self.truncated_errors:
            first = "; ".join(f"{i.code} {i.element}" for i in errs[:3])
            more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
            raise ValidationFailed(
                f"{what} refused: {len(errs)} error(s): {first}{more}",
                details=[i.to_dict() for i in self.issues],
            )


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _duplicates(rep: ValidationReport, layer: str, ids: Iterable[str], what: str) -> None:
    for key, n in Counter(ids).items():
        if n > 1:
            rep.error("duplicate_id", key, f"{what} {key!r} appears {n} times", layer)


def validate_model(model: NetworkModel) -> ValidationReport:
    """Check a model; returns a report with every problem found."""
    rep = ValidationReport()
    _check_nodes_links(model, rep)
    _check_valves(model, rep)
    _check_attachments(model, rep)
    _check_dmas_sensors(model, rep)
    _check_components(model, rep)
    return rep


def _check_nodes_links(model: NetworkModel, rep: ValidationReport) -> None:
    _duplicates(rep, "nodes", (n.id for n in model.nodes), "node")
    _duplicates(rep, "links", (lk.id for lk in model.links), "link")
    for n in model.nodes:
        if n.kind not in NODE_KINDS:
            rep.error("bad_value", n.id, f"node kind {n.kind!r} not one of {NODE_KINDS}", "nodes")
        if not n.has_coordinates:
            rep.error("missing_coordinates", n.id, "node has no coordinates", "nodes")
        elif not all(_finite(v) for v in (n.lon, n.lat, n.x, n.y)):
            rep.error("bad_geometry", n.id, "node coordinates are not finite", "nodes")
        if not _finite(n.elevation_m) or not _finite(n.base_demand_m3s):
            rep.error("bad_value", n.id, "elevation or demand is not a finite number", "nodes")
    if not any(n.is_source for n in model.nodes):
        rep.error("no_source", model.name, "network has no reservoir or tank", "nodes")
    nodes = model.node_by_id
    for lk in model.links:
        for end in (lk.start, lk.end):
            if end not in nodes:
                rep.error("unknown_node", lk.id, f"link end node {end!r} does not exist", "links")
        if lk.start == lk.end:
            rep.error("self_loop", lk.id, f"link starts and ends at node {lk.start!r}", "links")
        if lk.kind not in LINK_KINDS:
            rep.error("bad_value", lk.id, f"link kind {lk.kind!r} not one of {LINK_KINDS}", "links")
        if lk.status not in LINK_STATUSES:
            rep.error(
                "bad_value", lk.id, f"status {lk.status!r} not one of {LINK_STATUSES}", "links"
            )
        if lk.kind == "pipe":
            if not _finite(lk.length_m) or lk.length_m <= 0:
                rep.error("zero_length", lk.id, f"pipe length {lk.length_m!r} m", "links")
            if not _finite(lk.diameter_m) or lk.diameter_m < 0:
                rep.error("bad_value", lk.id, f"pipe diameter {lk.diameter_m!r} m", "links")
            elif lk.diameter_m == 0:
                rep.warning("bad_value", lk.id, "pipe diameter is 0", "links")


def _check_valves(model: NetworkModel, rep: ValidationReport) -> None:
    _duplicates(rep, "valves", (v.id for v in model.valves), "valve")
    nodes, links = model.node_by_id, model.link_by_id
    seen: Counter[tuple[str, str]] = Counter()
    for v in model.valves:
        link = links.get(v.link)
        if link is None:
            rep.error("unknown_link", v.id, f"valve on unknown link {v.link!r}", "valves")
        if v.node not in nodes:
            rep.error("unknown_node", v.id, f"valve at unknown node {v.node!r}", "valves")
        if link is not None and v.node not in (link.start, link.end):
            rep.error(
                "valve_not_at_link_end",
                v.id,
                f"node {v.node!r} is not an end of link {v.link!r} ({link.start!r}-{link.end!r})",
                "valves",
            )
        if v.normal not in VALVE_NORMAL:
            rep.error("bad_value", v.id, f"normal position {v.normal!r} not open/closed", "valves")
        if v.diameter_mm is not None and (not _finite(v.diameter_mm) or v.diameter_mm < 0):
            rep.error("bad_value", v.id, f"diameter {v.diameter_mm!r} mm", "valves")
        seen[(v.link, v.node)] += 1
    for (link_id, node_id), n in seen.items():
        if n > 1:
            rep.warning(
                "duplicate_valve",
                f"{link_id}@{node_id}",
                f"{n} valves on link {link_id!r} next to node {node_id!r}",
                "valves",
            )


def _check_attachments(model: NetworkModel, rep: ValidationReport) -> None:
    nodes, links = model.node_by_id, model.link_by_id
    _duplicates(rep, "hydrants", (h.id for h in model.hydrants), "hydrant")
    for h in model.hydrants:
        if h.node not in nodes:
            rep.error("unknown_node", h.id, f"hydrant at unknown node {h.node!r}", "hydrants")
    _duplicates(rep, "customers", (c.account for c in model.customers), "customer account")
    for c in model.customers:
        if c.node is None and c.link is None:
            rep.error("unattached", c.account, "customer has neither node nor link", "customers")
        if c.node is not None and c.node not in nodes:
            rep.error(
                "unknown_node", c.account, f"customer at unknown node {c.node!r}", "customers"
            )
        link = links.get(c.link) if c.link is not None else None
        if c.link is not None and link is None:
            rep.error(
                "unknown_link", c.account, f"customer on unknown link {c.link!r}", "customers"
            )
        if c.node is not None and c.link is not None:
            rep.error(
                "unattached",
                c.account,
                "customer has both a node and a link; give "
                "one (as the isolation engine's customers CSV requires)",
                "customers",
            )
        if c.customer_class not in CUSTOMER_CLASSES:
            rep.error(
                "bad_value",
                c.account,
                f"customer class {c.customer_class!r} not one of {CUSTOMER_CLASSES}",
                "customers",
            )


def _check_dmas_sensors(model: NetworkModel, rep: ValidationReport) -> None:
    from shapely.geometry import shape

    nodes, links = model.node_by_id, model.link_by_id
    _duplicates(rep, "dmas", (d.code for d in model.dmas), "DMA")
    dmas = model.dma_by_code
    for d in model.dmas:
        if not ZONE_RE.match(d.code) or d.code == NO_ZONE:
            rep.error(
                "bad_dma_code",
                d.code,
                "DMA code must be 1-8 upper-case letters/digits and not 'X'",
                "dmas",
            )
        if d.geometry is not None:
            try:
                geom = shape(d.geometry)
                if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
                    raise ValueError(f"{geom.geom_type} is not a valid polygon")
            except Exception as exc:
                rep.error("bad_geometry", d.code, f"DMA polygon unreadable: {exc}", "dmas")
        for m in d.boundary_meters:
            if m.link not in links:
                rep.error(
                    "unknown_link", d.code, f"boundary meter on unknown link {m.link!r}", "dmas"
                )
            if m.inflow not in (1, -1):
                rep.error("bad_value", d.code, f"meter {m.link!r} inflow must be +1 or -1", "dmas")
    for n in model.nodes:
        if n.dma is not None and n.dma not in dmas:
            rep.error("unknown_dma", n.id, f"node in unknown DMA {n.dma!r}", "nodes")
    _duplicates(rep, "sensors", (s.code for s in model.sensors), "sensor")
    for s in model.sensors:
        cm = SENSOR_CODE_RE.match(s.code)
        if cm is None:
            rep.error(
                "bad_sensor_code", s.code, "sensor code is not <KIND>-<ZONE>-<NNNNNN>", "sensors"
            )
        elif cm.group(1) != s.kind:
            rep.error(
                "bad_sensor_code", s.code, f"code kind {cm.group(1)} != kind {s.kind!r}", "sensors"
            )
        elif cm.group(2) != (s.dma or NO_ZONE):
            rep.warning(
                "sensor_zone_mismatch",
                s.code,
                f"code zone {cm.group(2)} but sensor DMA is {s.dma!r}",
                "sensors",
            )
        if s.kind not in SENSOR_KINDS:
            rep.error("bad_value", s.code, f"sensor kind {s.kind!r} unknown", "sensors")
        if s.node is None and s.link is None:
            rep.error("unattached", s.code, "sensor has neither node nor link", "sensors")
        if s.node is not None and s.node not in nodes:
            rep.error("unknown_node", s.code, f"sensor at unknown node {s.node!r}", "sensors")
        if s.link is not None and s.link not in links:
            rep.error("unknown_link", s.code, f"sensor on unknown link {s.link!r}", "sensors")
        if s.dma is not None and s.dma not in dmas:
            rep.error("unknown_dma", s.code, f"sensor in unknown DMA {s.dma!r}", "sensors")


def _check_components(model: NetworkModel, rep: ValidationReport) -> None:
    """Connected parts (all links, whatever their status) with no reservoir or tank."""
    index = {n.id: i for i, n in enumerate(model.nodes)}
    n = len(model.nodes)
    if n == 0:
        return
    pairs = [
        (index[lk.start], index[lk.end])
        for lk in model.links
        if lk.start in index and lk.end in index
    ]
    rows = np.fromiter((a for a, _ in pairs), dtype=np.int64, count=len(pairs))
    cols = np.fromiter((b for _, b in pairs), dtype=np.int64, count=len(pairs))
    adj = coo_array((np.ones(len(pairs)), (rows, cols)), shape=(n, n)).tocsr()
    ncomp, labels = connected_components(adj, directed=False)
    if ncomp <= 1 and any(nd.is_source for nd in model.nodes):
        return
    has_source = np.zeros(ncomp, dtype=bool)
    src = np.array([nd.is_source for nd in model.nodes], dtype=bool)
    has_source[labels[src]] = True
    if not has_source.any():
        return  # reported as no_source
    sizes = np.bincount(labels, minlength=ncomp)
    first = np.full(ncomp, -1, dtype=np.int64)
    order = np.arange(n)[::-1]
    first[labels[order]] = order
    for comp in np.flatnonzero(~has_source):
        nid = model.nodes[int(first[comp])].id
        rep.warning(
            "unsupplied_component",
            nid,
            f"{int(sizes[comp])} node(s) connected to {nid!r} have no path to any "
            "reservoir or tank",
            "nodes",
        )
