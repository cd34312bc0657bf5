"""Writing a model out as a layer folder a user can open in QGIS (and re-import).

Files: ``pipes``, ``junctions``, ``sources``, ``valves``, ``hydrants``, ``customers``,
``dmas``, ``sensors`` ``.geojson`` (RFC 7946, WGS84 lon/lat), ``valves.csv``,
``customers.csv``, ``network.inp`` (coordinates in metres of the model CRS) and
``network.json`` (name, CRS, meta).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from waternet.network import geo
from waternet.network.importers.common import write_csv
from waternet.network.importers.inp_writer import write_inp
from waternet.network.model import FORMAT, NetworkModel
from waternet.network.spatial import link_xy, valve_xy


def _fc(name: str, features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": name, "features": list(features)}


def _pt(lon: float | None, lat: float | None) -> dict[str, Any] | None:
    if lon is None or lat is None:
        return None
    return {"type": "Point", "coordinates": [lon, lat]}


def _feature(geometry: dict[str, Any] | None, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {k: v for k, v in props.items() if v is not None},
    }


def layer_collections(model: NetworkModel) -> dict[str, dict[str, Any]]:
    """The GeoJSON FeatureCollection of every layer (what :func:`write_layers` writes)."""
    nodes = model.node_by_id
    proj = geo.projector(model.crs)

    def node_ll(nid: str | None) -> tuple[float | None, float | None]:
        n = nodes.get(nid) if nid is not None else None
        return (n.lon, n.lat) if n is not None else (None, None)

    link_mid: dict[str, tuple[float, float]] = {}
    pipes = []
    valve_pts: dict[str, tuple[float, float]] = {}
    for lk in model.links:
        a, b = nodes.get(lk.start), nodes.get(lk.end)
        geom = None
        if a is not None and b is not None and a.lon is not None and b.lon is not None:
            coords = [[a.lon, a.lat], *[[u, v] for u, v in lk.vertices], [b.lon, b.lat]]
            geom = {"type": "LineString", "coordinates": coords}
            link_mid[lk.id] = tuple(np.mean(np.asarray(coords, dtype=float), axis=0))
        dma = a.dma if a is not None and b is not None and a.dma == b.dma else None
        pipes.append(
            _feature(
                geom,
                {
                    "id": lk.id,
                    "from_node": lk.start,
                    "to_node": lk.end,
                    "kind": lk.kind,
                    "length_m": lk.length_m,
                    "diameter_mm": round(lk.diameter_m * 1000.0, 3),
                    "status": lk.status,
                    "check_valve": lk.check_valve,
                    "valve_type": lk.valve_type,
                    "roughness": lk.roughness,
                    "material": lk.material,
                    "dma": dma,
                    **lk.attrs,
                },
            )
        )
    links = model.link_by_id
    for v in model.valves:
        if v.lon is not None and v.lat is not None:
            valve_pts[v.id] = (v.lon, v.lat)
            continue
        vlink = links.get(v.link)
        xy = link_xy(model, vlink) if vlink is not None else None
        if vlink is not None and xy is not None:
            p = valve_xy(xy, at_start=vlink.start == v.node)
            lon, lat = proj.point_lonlat(*p)
            valve_pts[v.id] = (geo.round_lonlat(lon), geo.round_lonlat(lat))

    def attach_ll(
        lon: float | None, lat: float | None, node: str | None, link: str | None
    ) -> dict[str, Any] | None:
        if lon is not None and lat is not None:
            return _pt(lon, lat)
        if node is not None and node in nodes:
            return _pt(*node_ll(node))
        if link is not None and link in link_mid:
            m = link_mid[link]
            return _pt(geo.round_lonlat(m[0]), geo.round_lonlat(m[1]))
        return None

    def node_props(n: Any) -> dict[str, Any]:
        return {
            "id": n.id,
            "kind": n.kind,
            "elevation_m": n.elevation_m,
            "base_demand_m3s": n.base_demand_m3s if n.kind == "junction" else None,
            "head_m": n.head_m,
            "init_level_m": n.init_level_m,
            "min_level_m": n.min_level_m,
            "max_level_m": n.max_level_m,
            "tank_diameter_m": n.tank_diameter_m,
            "dma": n.dma,
            **n.attrs,
        }

    return {
        "pipes": _fc("pipes", pipes),
        "junctions": _fc(
            "junctions",
            (
                _feature(_pt(n.lon, n.lat), node_props(n))
                for n in model.nodes
                if n.kind == "junction"
            ),
        ),
        "sources": _fc(
            "sources",
            (_feature(_pt(n.lon, n.lat), node_props(n)) for n in model.nodes if n.is_source),
        ),
        "valves": _fc(
            "valves",
            (
                _feature(
                    _pt(*valve_pts.get(v.id, (None, None))),
                    {
                        "valve": v.id,
                        "link": v.link,
                        "node": v.node,
                        "diameter_mm": v.diameter_mm,
                        "type": v.type,
                        "normal": v.normal,
                        "operable": v.operable,
                        **v.attrs,
                    },
                )
                for v in model.valves
            ),
        ),
        "hydrants": _fc(
            "hydrants",
            (
                _feature(
                    attach_ll(h.lon, h.lat, h.node, None), {"id": h.id, "node": h.node, **h.attrs}
                )
                for h in model.hydrants
            ),
        ),
        "customers": _fc(
            "customers",
            (
                _feature(
                    attach_ll(c.lon, c.lat, c.node, c.link),
                    {
                        "account": c.account,
                        "class": c.customer_class,
                        "critical": c.critical,
                        "node": c.node,
                        "link": c.link,
                        "address": c.address or None,
                        **c.attrs,
                    },
                )
                for c in model.customers
            ),
        ),
        "dmas": _fc(
            "dmas",
            (
                _feature(
                    d.geometry,
                    {
                        "code": d.code,
                        "name": d.name or None,
                        "boundary_meters": [
                            {
                                "link": m.link,
                                "inflow": m.inflow,
                                **({"sensor": m.sensor} if m.sensor else {}),
                            }
                            for m in d.boundary_meters
                        ],
                        **d.attrs,
                    },
                )
                for d in model.dmas
            ),
        ),
        "sensors": _fc(
            "sensors",
            (
                _feature(
                    attach_ll(s.lon, s.lat, s.node, s.link),
                    {
                        "code": s.code,
                        "kind": s.kind,
                        "node": s.node,
                        "link": s.link,
                        "dma": s.dma,
                        **s.attrs,
                    },
                )
                for s in model.sensors
            ),
        ),
    }


def write_layers(
    model: NetworkModel, out_dir: str | os.PathLike[str], *, inp: bool = True, wn: Any = None
) -> dict[str, Path]:
    """Write the layer folder; returns {file name: path}. ``wn``: a WNTR model to write as the
    .inp (coordinates replaced), see :func:`waternet.network.importers.inp_writer.write_inp`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, fc in layer_collections(model).items():
        p = out / f"{name}.geojson"
        p.write_text(json.dumps(fc, separators=(",", ":")), encoding="utf-8")
        written[p.name] = p
    p = out / "valves.csv"
    write_csv(
        p,
        ("valve", "link", "node", "diameter_mm", "type", "normal", "operable"),
        (
            (
                v.id,
                v.link,
                v.node,
                v.diameter_mm,
                v.type,
                v.normal,
                "true" if v.operable else "false",
            )
            for v in model.valves
        ),
    )
    written[p.name] = p
    p = out / "customers.csv"
    write_csv(
        p,
        ("account", "node", "link", "class", "address"),
        ((c.account, c.node, c.link, c.customer_class, c.address) for c in model.customers),
    )
    written[p.name] = p
    p = out / "network.json"
    p.write_text(
        json.dumps(
            {"format": FORMAT, "name": model.name, "crs": model.crs, "meta": model.meta}, indent=2
        ),
        encoding="utf-8",
    )
    written[p.name] = p
    if inp:
        written["network.inp"] = write_inp(model, out / "network.inp", wn=wn)
    return written
