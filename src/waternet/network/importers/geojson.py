"""GeoJSON FeatureCollection parsing, one collection per layer (see docs/network.md for the
attribute mapping). Geometry is reprojected from the collection's CRS to WGS84; a feature whose
geometry cannot be read is reported (``bad_geometry``) and left out, never fatal on its own.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from waternet.network import geo
from waternet.network.validation import ValidationReport

# canonical field -> accepted property names (first match wins), per layer
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "pipes": {
        "id": ("id", "link", "link_id", "pipe_id", "name"),
        "start": ("from_node", "start", "start_node", "node1", "from"),
        "end": ("to_node", "end", "end_node", "node2", "to"),
        "kind": ("kind", "link_kind"),
        "length_m": ("length_m", "length"),
        "diameter_mm": ("diameter_mm", "dn", "diameter"),
        "diameter_m": ("diameter_m",),
        "status": ("status", "initial_status"),
        "check_valve": ("check_valve", "cv"),
        "valve_type": ("valve_type",),
        "roughness": ("roughness",),
        "material": ("material",),
    },
    "nodes": {
        "id": ("id", "node", "node_id", "name"),
        "kind": ("kind", "node_kind", "type"),
        "elevation_m": ("elevation_m", "elevation", "elev"),
        "demand_m3s": ("base_demand_m3s", "demand_m3s"),
        "demand_lps": ("demand_lps", "base_demand_lps"),
        "head_m": ("head_m", "head"),
        "init_level_m": ("init_level_m",),
        "min_level_m": ("min_level_m",),
        "max_level_m": ("max_level_m",),
        "tank_diameter_m": ("tank_diameter_m", "diameter_m"),
        "dma": ("dma", "zone"),
    },
    "valves": {"id": ("valve", "id", "valve_id", "name")},
    "hydrants": {"id": ("id", "hydrant", "hydrant_id", "name"), "node": ("node", "node_id")},
    "customers": {"id": ("account", "id", "account_id")},
    "dmas": {
        "id": ("code", "id", "dma", "name"),
        "name": ("name", "label"),
        "meters": ("boundary_meters", "meters"),
    },
    "sensors": {
        "id": ("code", "id", "sensor", "sensor_code"),
        "kind": ("kind",),
        "node": ("node",),
        "link": ("link", "pipe"),
        "dma": ("dma", "zone"),
    },
}
GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "pipes": ("LineString", "MultiLineString"),
    "dmas": ("Polygon", "MultiPolygon"),
}  # every other layer: Point


def pick(props: Mapping[str, Any], layer: str, name: str) -> Any:
    """The first present, non-empty property among the aliases of ``name``."""
    for key in ALIASES.get(layer, {}).get(name, (name,)):
        v = props.get(key)
        if v is not None and not (isinstance(v, str) and v.strip() == ""):
            return v
    return None


@dataclass
class Feature:
    index: int
    id: str | None
    props: dict[str, Any]
    geometry: Any = None  # shapely geometry in WGS84; None when missing / unreadable
    lonlat: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # points / lines


def load_collection(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return dict(json.loads(source))
    return dict(json.loads(Path(source).read_text(encoding="utf-8-sig")))


def collection_crs(fc: Mapping[str, Any]) -> str | None:
    """The legacy ``crs`` member (``{"type": "name", "properties": {"name": ...}}``), if any."""
    c = fc.get("crs")
    if isinstance(c, Mapping):
        name = (c.get("properties") or {}).get("name")
        if isinstance(name, str):
            return geo.crs_name(name)
    return None


def parse_layer(
    source: str | os.PathLike[str] | Mapping[str, Any],
    layer: str,
    report: ValidationReport,
    *,
    crs: int | str | None = None,
) -> list[Feature]:
    """Features of one layer, geometry in WGS84. ``crs`` overrides the collection's own
    (default EPSG:4326). Problems go to ``report``."""
    base = "pipes" if layer == "pipes" else layer
    try:
        fc = load_collection(source)
    except (OSError, ValueError) as exc:
        report.error("bad_geometry", layer, f"layer {layer} is not readable JSON: {exc}", layer)
        return []
    if fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        report.error("bad_geometry", layer, f"layer {layer} is not a FeatureCollection", layer)
        return []
    src = geo.crs_name(crs) if crs is not None else (collection_crs(fc) or geo.WGS84)
    wanted = GEOMETRY_TYPES.get(layer, ("Point",))
    feats: list[Feature] = []
    for k, f in enumerate(fc["features"]):
        props = dict((f or {}).get("properties") or {}) if isinstance(f, Mapping) else {}
        fid = pick(props, base, "id")
        if fid is None and isinstance(f, Mapping) and f.get("id") is not None:
            fid = f.get("id")
        feat = Feature(k, None if fid is None else str(fid), props)
        label = feat.id or f"feature #{k}"
        try:
            g = _read_geometry(f.get("geometry") if isinstance(f, Mapping) else None, wanted)
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            shapely.errors.GEOSException,
        ) as exc:
            report.error("bad_geometry", label, f"unreadable geometry: {exc}", layer)
            g = None
        feat.geometry = g
        feats.append(feat)
    _to_wgs84(feats, src, report, layer)
    return feats


def _read_geometry(geom: Any, wanted: Sequence[str]) -> Any:
    if geom is None:
        raise ValueError("no geometry")
    if not isinstance(geom, Mapping):
        raise ValueError("geometry is not an object")
    gtype = geom.get("type")
    if gtype not in wanted:
        raise ValueError(f"{gtype} geometry, expected {' or '.join(wanted)}")
    g = shape(geom)
    coords = shapely.get_coordinates(g)
    if len(coords) == 0 or not np.isfinite(coords).all():
        raise ValueError("empty geometry or non-finite coordinates")
    if gtype == "MultiLineString":
        g = shapely.line_merge(g)
        if g.geom_type != "LineString":
            raise ValueError("MultiLineString parts do not form one line")
    if gtype in ("LineString", "MultiLineString") and len(shapely.get_coordinates(g)) < 2:
        raise ValueError("line with fewer than 2 points")
    return g


def _to_wgs84(feats: list[Feature], src: str, report: ValidationReport, layer: str) -> None:
    ok = [f for f in feats if f.geometry is not None]
    if not ok:
        return
    same = geo.parse_crs(src).equals(geo.parse_crs(geo.WGS84))
    for f in ok:
        g = f.geometry
        if not same:

            def to_ll(c: np.ndarray) -> np.ndarray:
                return np.column_stack(geo.transform(src, geo.WGS84, c[:, 0], c[:, 1]))

            g = shapely.transform(g, to_ll)
        c = shapely.get_coordinates(g)
        if (
            not np.isfinite(c).all()
            or (np.abs(c[:, 0]) > 180).any()
            or (np.abs(c[:, 1]) > 90).any()
        ):
            report.error(
                "bad_geometry",
                f.id or f"feature #{f.index}",
                f"coordinates are not valid positions in {src}",
                layer,
            )
            f.geometry = None
            continue
        f.geometry = g
        if g.geom_type in ("Point", "LineString"):
            f.lonlat = c


def polygon_geojson(g: Any) -> dict[str, Any]:
    """A shapely (Multi)Polygon as a GeoJSON geometry dict with coordinates rounded to 1e-7
    (pointwise: an invalid polygon stays as it is, for validation to report)."""
    rounded = shapely.transform(g, lambda c: np.round(c, 7))
    out: dict[str, Any] = json.loads(json.dumps(mapping(rounded)))
    return out


def parse_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return bool(value)
    s = str(value).strip().lower()
    if s in ("true", "yes", "y", "1", "t"):
        return True
    if s in ("false", "no", "n", "0", "f", ""):
        return False
    return None


def parse_meters(value: Any) -> list[tuple[str, int, str | None]] | None:
    """Boundary meters as a list of ``{"link", "inflow", "sensor"}`` objects or the text
    ``"P1:+1;P2:-1"`` (inflow defaults to +1). None when unreadable."""
    if value is None:
        return []
    out: list[tuple[str, int, str | None]] = []
    try:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return parse_meters(json.loads(value))
            for part in value.replace(",", ";").split(";"):
                part = part.strip()
                if not part:
                    continue
                link, _, sign = part.partition(":")
                out.append((link.strip(), int(sign) if sign.strip() else 1, None))
            return out
        for item in value:
            if isinstance(item, Mapping):
                sensor = item.get("sensor")
                out.append(
                    (
                        str(item["link"]),
                        int(item.get("inflow", 1)),
                        None if sensor is None else str(sensor),
                    )
                )
            else:
                out.append((str(item), 1, None))
        return out
    except (ValueError, KeyError, TypeError):
        return None
