"""Per-feature builders for the GIS layer importer (``layers.import_layers``): a link from a
``pipes`` feature (ends snapped to the nearest node), DMAs and sensor sites, the extra attributes
kept from a feature's properties, and the ``Attacher`` that finds the nearest node or pipe for a
feature without an explicit one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from waternet.network import geo
from waternet.network.importers.common import opt_float, opt_str
from waternet.network.importers.geojson import (
    ALIASES,
    Feature,
    parse_bool,
    parse_meters,
    pick,
    polygon_geojson,
)
from waternet.network.model import DMA, BoundaryMeter, Link, NetworkModel, Node, SensorSite
from waternet.network.spatial import SpatialIndex
from waternet.network.validation import ValidationReport


def point_lonlat(f: Feature) -> tuple[float, float] | None:
    """Rounded (lon, lat) of a feature's first vertex, or None without geometry."""
    if f.geometry is None or not len(f.lonlat):
        return None
    return geo.round_lonlat(f.lonlat[0, 0]), geo.round_lonlat(f.lonlat[0, 1])


_KNOWN_EXTRA = {
    "x",
    "y",
    "lon",
    "lat",
    "critical",
    "length_m",
    "kind",
    "class",
    "dma",
    "link",
    "node",
    "address",
    "sensor",
    "inflow",
    "valve",
}


def extra_attrs(f: Feature, layer: str, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """Properties of ``f`` that map to no field of ``layer`` (nor ``also``): kept as attrs."""
    known = {a for names in ALIASES.get(layer, {}).values() for a in names}
    known |= _KNOWN_EXTRA | set(also)
    return {k: v for k, v in f.props.items() if k not in known and v is not None}


def add_link(
    model: NetworkModel,
    f: Feature,
    rep: ValidationReport,
    proj: geo.Projector,
    tree: cKDTree | None,
    with_xy: list[Node],
    snap_m: float,
) -> None:
    """Append the link of one ``pipes`` feature; ends without a node id snap to the nearest node
    of ``tree`` within ``snap_m``."""
    layer = "pipes"
    label = f.id or f"feature #{f.index}"
    if f.id is None:
        rep.error("missing_field", label, "pipe without id", layer)
    ends: list[str | None] = [
        opt_str(pick(f.props, layer, "start")),
        opt_str(pick(f.props, layer, "end")),
    ]
    xy = None
    if f.geometry is not None:
        x, y = proj.to_xy(f.lonlat[:, 0], f.lonlat[:, 1])
        xy = np.column_stack([x, y])
        for i, p in ((0, xy[0]), (1, xy[-1])):
            if ends[i] is None and tree is not None:
                d, k = tree.query(p, distance_upper_bound=snap_m)
                if np.isfinite(d):
                    ends[i] = with_xy[int(k)].id
            if ends[i] is None:
                rep.error(
                    "unknown_node",
                    label,
                    f"pipe {'start' if i == 0 else 'end'} has no "
                    f"node id and no node within {snap_m} m",
                    layer,
                )
    elif ends[0] is None or ends[1] is None:
        rep.error("unknown_node", label, "pipe without geometry and without end node ids", layer)
    kind = (opt_str(pick(f.props, layer, "kind")) or "pipe").lower()
    lk = Link(
        id=f.id or f"?{f.index}",
        start=ends[0] or "",
        end=ends[1] or "",
        kind=kind,
        status=(opt_str(pick(f.props, layer, "status")) or "open").lower(),
        valve_type=opt_str(pick(f.props, layer, "valve_type")),
        material=opt_str(pick(f.props, layer, "material")),
        attrs=extra_attrs(f, layer),
    )
    lk.roughness = opt_float(pick(f.props, layer, "roughness"), rep, label, "roughness", layer)
    cv = parse_bool(pick(f.props, layer, "check_valve"))
    if cv is None:
        rep.error("bad_value", label, "check_valve must be true/false", layer)
    lk.check_valve = bool(cv)
    dmm = opt_float(pick(f.props, layer, "diameter_mm"), rep, label, "diameter_mm", layer)
    dm = opt_float(pick(f.props, layer, "diameter_m"), rep, label, "diameter_m", layer)
    lk.diameter_m = dm if dm is not None else (dmm / 1000.0 if dmm is not None else 0.0)
    length = opt_float(pick(f.props, layer, "length_m"), rep, label, "length_m", layer)
    if xy is not None:
        inner = f.lonlat[1:-1]
        lk.vertices = [(geo.round_lonlat(a), geo.round_lonlat(b)) for a, b in inner]
        lk.vertices_xy = [(geo.round_m(a), geo.round_m(b)) for a, b in xy[1:-1]]
        if length is None:
            length = round(geo.polyline_length([(float(a), float(b)) for a, b in xy]), 3)
    lk.length_m = length if length is not None else 0.0
    model.links.append(lk)


class Attacher:
    """Nearest node / pipe lookups for features without an explicit attachment."""

    def __init__(self, model: NetworkModel, tolerance_m: float) -> None:
        self.model = model
        self.tol = tolerance_m
        self._index: SpatialIndex | None = None

    @property
    def index(self) -> SpatialIndex:
        if self._index is None:
            self._index = SpatialIndex.from_model(self.model)
        return self._index

    def node(self, ll: tuple[float, float]) -> str | None:
        hit = self.index.nearest("nodes", ll[0], ll[1], max_distance_m=self.tol)
        return None if hit is None else hit.id

    def pipe(self, ll: tuple[float, float]) -> str | None:
        hit = self.index.nearest_pipe(ll[0], ll[1], max_distance_m=self.tol)
        return None if hit is None else hit.id


def add_dma(model: NetworkModel, f: Feature, rep: ValidationReport) -> None:
    """Append the DMA of one ``dmas`` feature (polygon and boundary meters)."""
    label = f.id or f"feature #{f.index}"
    if f.id is None:
        rep.error("missing_field", label, "DMA without code", "dmas")
    meters = parse_meters(pick(f.props, "dmas", "meters"))
    if meters is None:
        rep.error("bad_value", label, "boundary_meters unreadable", "dmas")
        meters = []
    model.dmas.append(
        DMA(
            code=f.id or f"?{f.index}",
            name=opt_str(pick(f.props, "dmas", "name")) or "",
            geometry=polygon_geojson(f.geometry) if f.geometry is not None else None,
            boundary_meters=[BoundaryMeter(link=lk, inflow=s, sensor=m) for lk, s, m in meters],
            attrs=extra_attrs(f, "dmas"),
        )
    )


def add_sensor(model: NetworkModel, f: Feature, rep: ValidationReport, att: Attacher) -> None:
    """Append the sensor site of one ``sensors`` feature, attached to the nearest node when it
    names neither node nor link."""
    label = f.id or f"feature #{f.index}"
    if f.id is None:
        rep.error("missing_field", label, "sensor without code", "sensors")
    code = f.id or f"?{f.index}"
    kind = opt_str(pick(f.props, "sensors", "kind")) or code.split("-", 1)[0]
    s = SensorSite(
        code=code,
        kind=kind.upper(),
        node=opt_str(pick(f.props, "sensors", "node")),
        link=opt_str(pick(f.props, "sensors", "link")),
        dma=opt_str(pick(f.props, "sensors", "dma")),
        attrs=extra_attrs(f, "sensors"),
    )
    ll = point_lonlat(f)
    if ll is not None:
        s.lon, s.lat = ll
        if s.node is None and s.link is None:
            s.node = att.node(ll)
    model.sensors.append(s)
