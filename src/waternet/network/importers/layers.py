"""A network from GIS layers: one GeoJSON FeatureCollection per layer, plus the valve and
customer CSVs. Attribute mapping: docs/network.md.

Layers: ``pipes`` (LineString; pumps and control valves too, by ``kind``), ``junctions``,
``sources`` (reservoirs/tanks), ``nodes`` (any kind), ``valves``, ``hydrants``, ``customers``,
``sensors`` (Point), ``dmas`` (Polygon). With ``base`` (a model imported from .inp) the network
layers are ignored and only the asset layers are added to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from waternet.errors import ValidationFailed
from waternet.network import geo
from waternet.network.importers.common import (
    add_valves,
    customer_from_props,
    opt_float,
    opt_str,
    read_customers_csv,
)
from waternet.network.importers.geojson import (
    ALIASES,
    Feature,
    parse_bool,
    parse_layer,
    parse_meters,
    pick,
    polygon_geojson,
)
from waternet.network.model import (
    DMA,
    BoundaryMeter,
    Hydrant,
    Link,
    NetworkModel,
    Node,
    SensorSite,
)
from waternet.network.spatial import SpatialIndex
from waternet.network.validation import ValidationReport, validate_model

NETWORK_LAYERS = ("pipes", "junctions", "sources", "nodes")
ASSET_LAYERS = ("valves", "hydrants", "customers", "dmas", "sensors")
LAYER_NAMES = NETWORK_LAYERS + ASSET_LAYERS
META_FILE = "network.json"
Source = str | os.PathLike[str] | Mapping[str, Any]


def find_layer_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """``<layer>.geojson`` (or ``.json``) files plus ``valves.csv``/``customers.csv``; keys are
    layer names, ``valves.csv``, ``customers.csv`` and ``network.json``."""
    d = Path(directory)
    if not d.is_dir():
        raise ValidationFailed(
            f"{d} is not a directory",
            details=[
                {
                    "severity": "error",
                    "code": "unreadable",
                    "element": str(d),
                    "layer": "",
                    "message": "no dir",
                }
            ],
        )
    out: dict[str, Path] = {}
    for name in LAYER_NAMES:
        for ext in (".geojson", ".json"):
            if (d / f"{name}{ext}").is_file():
                out[name] = d / f"{name}{ext}"
                break
    for extra in ("valves.csv", "customers.csv", META_FILE):
        if (d / extra).is_file():
            out[extra] = d / extra
    return out


def import_layers_dir(
    directory: str | os.PathLike[str],
    *,
    crs: int | str | None = None,
    base: NetworkModel | None = None,
    name: str | None = None,
    valves_csv: str | os.PathLike[str] | None = None,
    customers_csv: str | os.PathLike[str] | None = None,
    strict: bool = True,
    **kwargs: Any,
) -> tuple[NetworkModel, ValidationReport]:
    """Import every layer found in ``directory`` (see :func:`find_layer_files`). A valves /
    customers CSV given here is used instead of the folder's own CSV (a ``valves``/
    ``customers`` GeoJSON layer in the folder wins over the folder's CSV)."""
    found = find_layer_files(directory)
    meta: dict[str, Any] = {}
    if META_FILE in found:
        try:
            meta = dict(json.loads(found[META_FILE].read_text(encoding="utf-8")))
        except (OSError, ValueError):
            meta = {}
    layers = {k: v for k, v in found.items() if k in LAYER_NAMES}
    if valves_csv is not None:
        layers.pop("valves", None)
    elif "valves" not in layers:
        valves_csv = found.get("valves.csv")
    if customers_csv is not None:
        layers.pop("customers", None)
    elif "customers" not in layers:
        customers_csv = found.get("customers.csv")
    return import_layers(
        layers,
        crs=crs,
        base=base,
        strict=strict,
        name=name or meta.get("name") or Path(directory).name,
        model_crs=kwargs.pop("model_crs", None) or (None if base else meta.get("crs")),
        meta=meta.get("meta") if isinstance(meta.get("meta"), dict) else None,
        valves_csv=valves_csv,
        customers_csv=customers_csv,
        **kwargs,
    )


def import_layers(
    layers: Mapping[str, Source],
    *,
    crs: int | str | None = None,
    model_crs: str | None = None,
    name: str | None = None,
    base: NetworkModel | None = None,
    valves_csv: str | os.PathLike[str] | None = None,
    customers_csv: str | os.PathLike[str] | None = None,
    snap_tolerance_m: float = 1.0,
    attach_tolerance_m: float = 50.0,
    meta: dict[str, Any] | None = None,
    strict: bool = True,
) -> tuple[NetworkModel, ValidationReport]:
    """Build a model from layer FeatureCollections (paths, JSON text or dicts).

    ``crs`` overrides every collection's CRS (default: its ``crs`` member, else WGS84).
    ``model_crs``: projected metre CRS for x/y (default: ``base.crs``, else the UTM zone of
    the network's centre). Pipe ends without ``from_node``/``to_node`` snap to the nearest
    node within ``snap_tolerance_m``; hydrants, customers and sensors without a node/link
    attach to the nearest node (customers: pipe) within ``attach_tolerance_m``.
    """
    rep = ValidationReport()
    feats = {k: parse_layer(v, k, rep, crs=crs) for k, v in layers.items() if k in LAYER_NAMES}
    for k in layers:
        if k not in LAYER_NAMES:
            rep.warning("ignored_layer", k, f"unknown layer {k!r} ignored", k)
    if base is not None:
        model = NetworkModel.from_dict(base.to_dict())
        for k in NETWORK_LAYERS:
            if k in feats:
                rep.warning(
                    "ignored_layer", k, f"layer {k} ignored: network comes from the .inp", k
                )
    else:
        model = _network(
            feats, rep, model_crs=model_crs, name=name or "network", snap_m=snap_tolerance_m
        )
    if name:
        model.name = name
    if meta:
        model.meta.update(meta)
    att = _Attacher(model, attach_tolerance_m)
    rows = []
    positions: dict[str, tuple[float, float]] = {}
    for f in feats.get("valves", []):
        row = {
            k: f.props.get(k) for k in ("link", "node", "diameter_mm", "type", "normal", "operable")
        }
        vid = f.id or ""
        row["valve"] = vid
        rows.append(row)
        if len(f.lonlat):
            positions[vid] = (geo.round_lonlat(f.lonlat[0, 0]), geo.round_lonlat(f.lonlat[0, 1]))
    if "valves" in feats:
        add_valves(model, rep, rows=rows, positions=positions, layer="valves")
    if valves_csv is not None:
        add_valves(model, rep, csv_source=valves_csv, layer="valves.csv")
    for f in feats.get("hydrants", []):
        node = opt_str(pick(f.props, "hydrants", "node"))
        ll = _ll(f)
        if node is None and ll is not None:
            node = att.node(ll)
            if node is None:
                rep.error(
                    "unattached",
                    f.id or f"feature #{f.index}",
                    f"hydrant has no node and none within {attach_tolerance_m} m",
                    "hydrants",
                )
        if f.id is None:
            rep.error("missing_field", f"feature #{f.index}", "hydrant without id", "hydrants")
        model.hydrants.append(
            Hydrant(
                id=f.id or f"?{f.index}",
                node=node or "",
                lon=ll[0] if ll else None,
                lat=ll[1] if ll else None,
                attrs=_extra(f, "hydrants", ("node",)),
            )
        )
    for f in feats.get("customers", []):
        ll = _ll(f)
        c = customer_from_props(f.props, rep, "customers", f.id or f"feature #{f.index}", ll)
        if c.node is None and c.link is None and ll is not None:
            c.link = att.pipe(ll)
        model.customers.append(c)
    if customers_csv is not None:
        model.customers.extend(read_customers_csv(customers_csv, rep))
    for f in feats.get("dmas", []):
        _dma(model, f, rep)
    for f in feats.get("sensors", []):
        _sensor(model, f, rep, att)
    model.reindex()
    rep.extend(validate_model(model))
    if strict:
        rep.raise_if_errors("GIS layer import")
    return model, rep


def _ll(f: Feature) -> tuple[float, float] | None:
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


def _extra(f: Feature, layer: str, also: tuple[str, ...] = ()) -> dict[str, Any]:
    known = {a for names in ALIASES.get(layer, {}).values() for a in names}
    known |= _KNOWN_EXTRA | set(also)
    return {k: v for k, v in f.props.items() if k not in known and v is not None}


def _network(
    feats: Mapping[str, list[Feature]],
    rep: ValidationReport,
    *,
    model_crs: str | None,
    name: str,
    snap_m: float,
) -> NetworkModel:
    node_feats: list[tuple[Feature, str]] = []
    for layer, default_kind in (
        ("junctions", "junction"),
        ("sources", "reservoir"),
        ("nodes", "junction"),
    ):
        node_feats.extend((f, default_kind) for f in feats.get(layer, []))
    if "pipes" not in feats:
        rep.error("missing_field", "pipes", "no pipes layer", "pipes")
    if not node_feats:
        rep.error("missing_field", "nodes", "no junctions/sources/nodes layer", "nodes")
    pts = [f.lonlat[0] for f, _ in node_feats if len(f.lonlat)]
    if model_crs is None:
        allc = pts or [f.lonlat[0] for f in feats.get("pipes", []) if len(f.lonlat)]
        c = np.mean(allc, axis=0) if allc else np.array(geo_anchor())
        model_crs = f"EPSG:{geo.utm_epsg(float(c[0]), float(c[1]))}"
    proj = geo.projector(geo.crs_name(model_crs))
    model = NetworkModel(name=name, crs=proj.crs, meta={"source": "gis"})
    for f, default_kind in node_feats:
        layer = "nodes"
        label = f.id or f"feature #{f.index}"
        if f.id is None:
            rep.error("missing_field", label, "node without id", layer)
        kind = (opt_str(pick(f.props, layer, "kind")) or default_kind).lower()
        n = Node(
            id=f.id or f"?{f.index}",
            kind=kind,
            dma=opt_str(pick(f.props, layer, "dma")),
            attrs=_extra(f, layer),
        )
        for fld in (
            "elevation_m",
            "head_m",
            "init_level_m",
            "min_level_m",
            "max_level_m",
            "tank_diameter_m",
        ):
            v = opt_float(pick(f.props, layer, fld), rep, label, fld, layer)
            if v is not None:
                setattr(n, fld, v)
        dem = opt_float(pick(f.props, layer, "demand_m3s"), rep, label, "demand", layer)
        lps = opt_float(pick(f.props, layer, "demand_lps"), rep, label, "demand_lps", layer)
        n.base_demand_m3s = dem if dem is not None else (lps / 1000.0 if lps is not None else 0.0)
        if kind == "reservoir" and n.head_m is None:
            n.head_m = n.elevation_m
        if len(f.lonlat):
            lon, lat = float(f.lonlat[0, 0]), float(f.lonlat[0, 1])
            x, y = proj.point_xy(lon, lat)
            n.lon, n.lat = geo.round_lonlat(lon), geo.round_lonlat(lat)
            n.x, n.y = geo.round_m(x), geo.round_m(y)
        model.nodes.append(n)
    with_xy = [n for n in model.nodes if n.x is not None]
    tree = cKDTree(np.array([(n.x, n.y) for n in with_xy])) if with_xy else None
    for f in feats.get("pipes", []):
        _link(model, f, rep, proj, tree, with_xy, snap_m)
    model.reindex()
    return model


def geo_anchor() -> tuple[float, float]:
    from waternet.network.importers.inp import DEFAULT_ANCHOR

    return DEFAULT_ANCHOR


def _link(
    model: NetworkModel,
    f: Feature,
    rep: ValidationReport,
    proj: geo.Projector,
    tree: cKDTree | None,
    with_xy: list[Node],
    snap_m: float,
) -> None:
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
        attrs=_extra(f, layer),
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


class _Attacher:
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


def _dma(model: NetworkModel, f: Feature, rep: ValidationReport) -> None:
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
            attrs=_extra(f, "dmas"),
        )
    )


def _sensor(model: NetworkModel, f: Feature, rep: ValidationReport, att: _Attacher) -> None:
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
        attrs=_extra(f, "sensors"),
    )
    ll = _ll(f)
    if ll is not None:
        s.lon, s.lat = ll
        if s.node is None and s.link is None:
            s.node = att.node(ll)
    model.sensors.append(s)
