"""A network from GIS layers: one GeoJSON FeatureCollection per layer, plus the valve and
customer CSVs. Attribute mapping: docs/network.md.

Layers: ``pipes`` (LineString; pumps and control valves too, by ``kind``), ``junctions``,
``sources`` (reservoirs/tanks), ``nodes`` (any kind), ``valves``, ``hydrants``, ``customers``,
``sensors`` (Point), ``dmas`` (Polygon). With ``base`` (a model imported from .inp) the network
layers are ignored and only the asset layers are added to it. The per-feature builders (links,
DMAs, sensors, extra attributes, nearest node/pipe) are in ``features``.
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
from waternet.network.importers.features import (
    Attacher,
    add_dma,
    add_link,
    add_sensor,
    extra_attrs,
    point_lonlat,
)
from waternet.network.importers.geojson import Feature, parse_layer, pick
from waternet.network.model import Hydrant, NetworkModel, Node
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
    att = Attacher(model, attach_tolerance_m)
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
        ll = point_lonlat(f)
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
                attrs=extra_attrs(f, "hydrants", ("node",)),
            )
        )
    for f in feats.get("customers", []):
        ll = point_lonlat(f)
        c = customer_from_props(f.props, rep, "customers", f.id or f"feature #{f.index}", ll)
        if c.node is None and c.link is None and ll is not None:
            c.link = att.pipe(ll)
        model.customers.append(c)
    if customers_csv is not None:
        model.customers.extend(read_customers_csv(customers_csv, rep))
    for f in feats.get("dmas", []):
        add_dma(model, f, rep)
    for f in feats.get("sensors", []):
        add_sensor(model, f, rep, att)
    model.reindex()
    rep.extend(validate_model(model))
    if strict:
        rep.raise_if_errors("GIS layer import")
    return model, rep


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
            attrs=extra_attrs(f, layer),
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
        add_link(model, f, rep, proj, tree, with_xy, snap_m)
    model.reindex()
    return model


def geo_anchor() -> tuple[float, float]:
    from waternet.network.importers.inp import DEFAULT_ANCHOR

    return DEFAULT_ANCHOR
