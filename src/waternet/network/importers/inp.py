"""EPANET .inp import through WNTR's reader, with coordinates placed on the globe.

An .inp file's [COORDINATES] and [VERTICES] are in some planar system. Two ways to place them:

* ``crs=<EPSG>`` (int or ``"EPSG:nnnn"``): they are in that projected CRS (its own unit, e.g.
  US survey feet for state-plane codes). They are reprojected to WGS84; ``x``/``y`` become
  metres in the model CRS (the same CRS when it is in metres, else the UTM zone of the centre).
* ``crs="local"``: they are planar coordinates in an arbitrary unit, ``scale`` metres per unit
  (``"auto"``: estimated from the pipe lengths, see :func:`estimate_coordinate_scale`); the
  centre of their bounding box is placed at ``anchor`` (lon, lat) and the model CRS is the UTM
  zone of the anchor.

Lengths, diameters and demands are WNTR's SI values (metres, m3/s) whatever the .inp units.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from waternet.errors import ValidationFailed
from waternet.network import geo
from waternet.network.model import Link, NetworkModel, Node
from waternet.network.validation import ValidationReport, validate_model

DEFAULT_ANCHOR = (117.23, 31.82)
FEET = 0.3048


def read_wntr(path_or_text: str | os.PathLike[str]) -> Any:
    """A ``wntr.network.WaterNetworkModel`` from an .inp path or the .inp text itself."""
    import wntr

    text_given = isinstance(path_or_text, str) and "\n" in path_or_text
    try:
        if not text_given:
            return wntr.network.WaterNetworkModel(str(path_or_text))
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "network.inp"
            p.write_text(str(path_or_text), encoding="utf-8")
            return wntr.network.WaterNetworkModel(str(p))
    except Exception as exc:  # WNTR raises many kinds (EpanetException, KeyError, ...)
        where = "the .inp text" if text_given else str(path_or_text)
        raise ValidationFailed(
            f"cannot read EPANET file {where}: {exc}",
            details=[
                {
                    "severity": "error",
                    "code": "bad_inp",
                    "element": "",
                    "layer": "inp",
                    "message": str(exc),
                }
            ],
        ) from exc


def _coordinate_ids(path_or_text: str | os.PathLike[str]) -> set[str] | None:
    """Ids listed in the .inp's [COORDINATES] section (None when unreadable)."""
    try:
        if isinstance(path_or_text, str) and "\n" in path_or_text:
            text = path_or_text
        else:
            text = Path(path_or_text).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    ids: set[str] = set()
    in_coords = False
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            in_coords = line.upper().startswith("[COORD")
            continue
        if in_coords:
            ids.add(line.split()[0])
    return ids


def estimate_coordinate_scale(wn: Any) -> float:
    """Metres per coordinate unit, from pipe length / straight end-to-end distance.

    The median ratio is used; when it is within 12 % of a foot (0.3048) or of a metre, exactly
    that unit is taken (pipes are rarely shorter than the straight line, and bends make them a
    little longer). Schematic networks (Net3, Net6) get their median ratio, so the drawn city
    has the size the pipe lengths imply.
    """
    ratios: list[float] = []
    for _, pipe in wn.pipes():
        a = pipe.start_node.coordinates
        b = pipe.end_node.coordinates
        d = float(np.hypot(a[0] - b[0], a[1] - b[1]))
        if d > 0 and pipe.length > 0:
            ratios.append(float(pipe.length) / d)
    if not ratios:
        return 1.0
    med = float(np.median(ratios))
    for unit in (FEET, 1.0):
        if unit <= med <= unit * 1.12:
            return unit
    return med


def model_from_wntr(
    wn: Any,
    *,
    crs: int | str = "local",
    anchor: tuple[float, float] = DEFAULT_ANCHOR,
    scale: float | str = "auto",
    name: str | None = None,
    coordinate_ids: set[str] | None = None,
) -> tuple[NetworkModel, ValidationReport]:
    """Convert a WNTR model; returns the model and its validation report (not raised).

    ``coordinate_ids``: the node ids that really have coordinates (WNTR gives (0, 0) to nodes
    missing from [COORDINATES]); None means all of them do.
    """
    node_names = [str(n) for n in wn.node_name_list]
    raw = np.array([wn.get_node(n).coordinates for n in node_names], dtype=np.float64)
    raw = raw.reshape(-1, 2)
    has = np.array([coordinate_ids is None or n in coordinate_ids for n in node_names])
    place = _Placement(wn, raw[has], crs=crs, anchor=anchor, scale=scale)
    lon, lat, x, y = place.convert(raw)

    nodes: list[Node] = []
    for i, nid in enumerate(node_names):
        nd = wn.get_node(nid)
        node = Node(id=nid, kind=nd.node_type.lower())
        if has[i]:
            node.lon, node.lat = geo.round_lonlat(lon[i]), geo.round_lonlat(lat[i])
            node.x, node.y = geo.round_m(x[i]), geo.round_m(y[i])
        if node.kind == "junction":
            node.elevation_m = float(nd.elevation)
            node.base_demand_m3s = float(sum(nd.demand_timeseries_list.base_demand_list()))
        elif node.kind == "reservoir":
            node.head_m = float(nd.base_head)
            node.elevation_m = float(nd.base_head)
        else:
            node.elevation_m = float(nd.elevation)
            node.init_level_m = float(nd.init_level)
            node.min_level_m = float(nd.min_level)
            node.max_level_m = float(nd.max_level)
            node.tank_diameter_m = float(nd.diameter)
        nodes.append(node)

    links: list[Link] = []
    for lid in wn.link_name_list:
        lk = wn.get_link(lid)
        status = str(lk.initial_status).lower()
        if status not in ("open", "closed", "active"):
            status = "open"
        link = Link(
            id=str(lid), start=str(lk.start_node_name), end=str(lk.end_node_name), status=status
        )
        t = lk.link_type
        if t == "Pipe":
            link.length_m = float(lk.length)
            link.diameter_m = float(lk.diameter)
            link.roughness = float(lk.roughness)
            link.check_valve = bool(lk.check_valve)
        elif t == "Pump":
            link.kind = "pump"
            link.attrs["pump_type"] = str(lk.pump_type)
            if str(lk.pump_type).upper() == "POWER":
                link.attrs["power_kw"] = float(lk.power) / 1000.0
        else:
            link.kind = "valve"
            link.valve_type = str(lk.valve_type).upper()
            link.diameter_m = float(lk.diameter)
            if lk.initial_setting is not None:
                link.attrs["setting"] = float(lk.initial_setting)
        if lk.vertices:
            vx = np.array(lk.vertices, dtype=np.float64).reshape(-1, 2)
            vlon, vlat, vxm, vym = place.convert(vx)
            link.vertices = [
                (geo.round_lonlat(a), geo.round_lonlat(b)) for a, b in zip(vlon, vlat, strict=True)
            ]
            link.vertices_xy = [
                (geo.round_m(a), geo.round_m(b)) for a, b in zip(vxm, vym, strict=True)
            ]
        links.append(link)

    title = " ".join(str(t) for t in (wn.title or []) if str(t).strip()).strip()
    model = NetworkModel(
        name=name or str(getattr(wn, "name", "") or title or "network"),
        crs=place.model_crs,
        nodes=nodes,
        links=links,
        meta={"source": "inp", "placement": place.describe(), "title": title},
    )
    return model, validate_model(model)


class _Placement:
    """How .inp coordinates map to lon/lat and model metres."""

    def __init__(
        self,
        wn: Any,
        pts: np.ndarray,
        *,
        crs: int | str,
        anchor: tuple[float, float],
        scale: float | str,
    ) -> None:
        self.local = isinstance(crs, str) and crs.strip().lower() == "local"
        self.anchor = (float(anchor[0]), float(anchor[1]))
        if self.local:
            self.scale = estimate_coordinate_scale(wn) if scale == "auto" else float(scale)
            if len(pts):
                self.centre = (
                    (pts[:, 0].min() + pts[:, 0].max()) / 2.0,
                    (pts[:, 1].min() + pts[:, 1].max()) / 2.0,
                )
            else:
                self.centre = (0.0, 0.0)
            self.model_crs = f"EPSG:{geo.utm_epsg(*self.anchor)}"
            self.proj = geo.projector(self.model_crs)
            self.origin = self.proj.point_xy(*self.anchor)
            self.src_crs = ""
        else:
            self.src_crs = geo.crs_name(crs)
            src = geo.parse_crs(crs)
            if not src.is_projected:
                raise ValidationFailed(
                    f".inp coordinates must be in a projected CRS, got {self.src_crs}"
                )
            if geo.is_metric_projected(src):
                self.model_crs = self.src_crs
            else:
                c = pts.mean(axis=0) if len(pts) else np.zeros(2)
                clon, clat = geo.transform(src, geo.WGS84, [c[0]], [c[1]])
                self.model_crs = f"EPSG:{geo.utm_epsg(float(clon[0]), float(clat[0]))}"
            self.proj = geo.projector(self.model_crs)
            self.scale = 1.0

    def convert(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self.local:
            x = self.origin[0] + (pts[:, 0] - self.centre[0]) * self.scale
            y = self.origin[1] + (pts[:, 1] - self.centre[1]) * self.scale
            lon, lat = self.proj.to_lonlat(x, y)
            return lon, lat, x, y
        lon, lat = geo.transform(self.src_crs, geo.WGS84, pts[:, 0], pts[:, 1])
        if self.model_crs == self.src_crs:
            return lon, lat, pts[:, 0].copy(), pts[:, 1].copy()
        x, y = self.proj.to_xy(lon, lat)
        return lon, lat, x, y

    def describe(self) -> dict[str, Any]:
        if self.local:
            return {
                "crs": "local",
                "scale_m_per_unit": self.scale,
                "centre": list(self.centre),
                "anchor": list(self.anchor),
            }
        return {"crs": self.src_crs}


_INP_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def import_inp(
    path_or_text: str | os.PathLike[str],
    *,
    crs: int | str = "local",
    anchor: tuple[float, float] = DEFAULT_ANCHOR,
    scale: float | str = "auto",
    name: str | None = None,
    strict: bool = True,
) -> tuple[NetworkModel, ValidationReport]:
    """Import an EPANET .inp (path or text). With ``strict`` (default) a report with errors
    raises :class:`ValidationFailed` whose ``details`` list every issue."""
    wn = read_wntr(path_or_text)
    ids = _coordinate_ids(path_or_text)
    if name is None and not (isinstance(path_or_text, str) and "\n" in path_or_text):
        name = _INP_NAME.sub("_", Path(path_or_text).stem)
    model, report = model_from_wntr(
        wn, crs=crs, anchor=anchor, scale=scale, name=name, coordinate_ids=ids
    )
    if strict:
        report.raise_if_errors("EPANET import")
    return model, report
