"""Map layers of a network version as arrays, and GeoJSON for a bbox and zoom (pure).

Large networks are never sent whole (thresholds here and in :mod:`waternet.gis.features`,
documented in docs/network.md):

* pipes: when a bbox holds more than ``limit`` links, the largest diameters are kept (whole
  diameter classes, smallest class kept such that at most ``limit`` remain; pumps and control
  valves always count as largest), then the longest; polylines are simplified to
  ``SIMPLIFY_PX`` pixel below zoom ``SIMPLIFY_BELOW``;
* points: below ``CLUSTER_BELOW[layer]`` (or when more than ``limit`` in the bbox) they are
  clustered on a ``CLUSTER_CELL_PX`` pixel grid (web-mercator pixels at that zoom; the cell
  doubles until at most ``limit`` cells remain): one feature per cell with ``count`` (a cell of
  one point is the point itself);
* every response holds at most ``limit`` (<= ``MAX_FEATURES``) features; ``truncated`` says
  that features of the bbox were left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree

from waternet.errors import NotFound, ValidationFailed
from waternet.gis.features import F64, I64, Layer, pipe_features, point_features, polygon_features
from waternet.network import geo
from waternet.network.model import NetworkModel
from waternet.network.spatial import VALVE_OFFSET_M, SpatialIndex

MAX_FEATURES = 5000
MAX_ZOOM = 22
CLUSTER_BELOW = {
    "junctions": 16,
    "sources": 0,
    "valves": 16,
    "hydrants": 15,
    "customers": 17,
    "sensors": 15,
}
POINT_LAYERS = tuple(CLUSTER_BELOW)
LAYERS = ("pipes", *POINT_LAYERS, "dmas")


def _col(values: Sequence[float | None]) -> F64:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _points_layer(
    ids: list[str],
    lon: F64,
    lat: F64,
    props: dict[str, list[Any]],
    flags: dict[str, NDArray[np.bool_]] | None = None,
) -> Layer:
    ok = np.isfinite(lon) & np.isfinite(lat)
    keep = np.flatnonzero(ok)
    ll = np.column_stack([lon[keep], lat[keep]])
    return Layer(
        merc=_mercator(ll),
        ids=[ids[i] for i in keep.tolist()],
        props={k: [v[i] for i in keep.tolist()] for k, v in props.items()},
        lonlat=ll,
        flags={k: v[keep] for k, v in (flags or {}).items()},
        tree=STRtree(shapely.points(ll)),
    )


class MapLayers:
    """Arrays for the map layers of one model; :meth:`geojson` answers a bbox at a zoom."""

    def __init__(self, crs: str, layers: dict[str, Layer]) -> None:
        self.crs = crs
        self.layers = layers

    @classmethod
    def from_model(cls, model: NetworkModel) -> MapLayers:
        nodes = model.nodes
        nidx = {n.id: i for i, n in enumerate(nodes)}
        nlon, nlat = _col([n.lon for n in nodes]), _col([n.lat for n in nodes])
        layers: dict[str, Layer] = {}
        links = [lk for lk in model.links if lk.start in nidx and lk.end in nidx]
        s = np.array([nidx[lk.start] for lk in links], dtype=np.int64)
        e = np.array([nidx[lk.end] for lk in links], dtype=np.int64)
        layers["pipes"] = _lines_layer(model, links, s, e, nlon, nlat)
        for name, want in (("junctions", False), ("sources", True)):
            sel = [i for i, n in enumerate(nodes) if n.is_source == want]
            props: dict[str, list[Any]] = (
                {"kind": [nodes[i].kind for i in sel]}
                if want
                else {"dma": [nodes[i].dma for i in sel]}
            )
            layers[name] = _points_layer([nodes[i].id for i in sel], nlon[sel], nlat[sel], props)
        layers["valves"] = _valves_layer(model, nidx, nlon, nlat)
        lidx = {lk.id: j for j, lk in enumerate(links)}
        mid_lon = (nlon[s] + nlon[e]) / 2.0 if len(links) else np.zeros(0)
        mid_lat = (nlat[s] + nlat[e]) / 2.0 if len(links) else np.zeros(0)

        def place(items: Sequence[Any]) -> tuple[F64, F64]:
            lon, lat = _col([it.lon for it in items]), _col([it.lat for it in items])
            for k, it in enumerate(items):
                if np.isnan(lon[k]) or np.isnan(lat[k]):
                    node, link = getattr(it, "node", None), getattr(it, "link", None)
                    if node in nidx:
                        lon[k], lat[k] = nlon[nidx[node]], nlat[nidx[node]]
                    elif link in lidx:
                        lon[k], lat[k] = mid_lon[lidx[link]], mid_lat[lidx[link]]
            return lon, lat

        hy = model.hydrants
        layers["hydrants"] = _points_layer(
            [h.id for h in hy], *place(hy), {"node": [h.node for h in hy]}
        )
        cu = model.customers
        critical = np.array([c.critical for c in cu], dtype=bool)
        layers["customers"] = _points_layer(
            [c.account for c in cu],
            *place(cu),
            {"class": [c.customer_class for c in cu], "critical": critical.tolist()},
            {"critical": critical},
        )
        se = model.sensors
        layers["sensors"] = _points_layer(
            [x.code for x in se],
            *place(se),
            {"kind": [x.kind for x in se], "dma": [x.dma for x in se]},
        )
        dmas = [d for d in model.dmas if d.geometry is not None]
        geoms = np.array([shapely.geometry.shape(d.geometry) for d in dmas], dtype=object)
        layers["dmas"] = Layer(
            ids=[d.code for d in dmas],
            props={
                "name": [d.name for d in dmas],
                "boundary_meters": [len(d.boundary_meters) for d in dmas],
            },
            geoms=geoms,
            tree=STRtree(geoms),
        )
        return cls(model.crs, layers)

    # ----- queries -------------------------------------------------------------------------
    def layer(self, name: str) -> Layer:
        if name not in self.layers:
            raise NotFound(f"unknown layer {name!r}; use one of {', '.join(LAYERS)}")
        return self.layers[name]

    def bbox_indices(self, name: str, bbox: Sequence[float]) -> I64:
        lay = self.layer(name)
        if not len(lay) or lay.tree is None:
            return np.zeros(0, dtype=np.int64)
        ext = _extent(lay)
        if bbox[0] <= ext[0] and bbox[1] <= ext[1] and bbox[2] >= ext[2] and bbox[3] >= ext[3]:
            return np.arange(len(lay), dtype=np.int64)  # the whole layer: no tree walk
        box = shapely.box(*bbox)
        idx = np.sort(lay.tree.query(box, predicate="intersects")).astype(np.int64)
        if name == "pipes" and len(idx):  # boxes meet: check the lines crossing the edges
            b = lay.bounds[idx]
            inside = (
                (b[:, 0] >= bbox[0])
                & (b[:, 1] >= bbox[1])
                & (b[:, 2] <= bbox[2])
                & (b[:, 3] <= bbox[3])
            )
            edge = idx[~inside]
            if len(edge):
                lines = shapely.linestrings(
                    np.concatenate(
                        [lay.coords[lay.offsets[i] : lay.offsets[i + 1]] for i in edge.tolist()]
                    ),
                    indices=np.repeat(np.arange(len(edge)), np.diff(lay.offsets)[edge]),
                )
                keep = np.ones(len(idx), dtype=bool)
                keep[np.flatnonzero(~inside)] = shapely.intersects(lines, box)
                idx = idx[keep]
        return idx

    def geojson(
        self, name: str, bbox: Sequence[float], zoom: int, *, limit: int = MAX_FEATURES
    ) -> dict[str, Any]:
        """A FeatureCollection of layer ``name`` in ``bbox`` (min_lon, min_lat, max_lon,
        max_lat) at web-map ``zoom``; extra members: layer, zoom, total (features in the bbox),
        truncated, clustered, min_diameter_mm (pipes)."""
        bbox = check_bbox(bbox)
        if not 0 <= zoom <= MAX_ZOOM:
            raise ValidationFailed(f"zoom must be 0..{MAX_ZOOM}", details=[{"zoom": zoom}])
        limit = max(1, min(int(limit), MAX_FEATURES))
        lay = self.layer(name)
        idx = self.bbox_indices(name, bbox)
        out: dict[str, Any] = {
            "type": "FeatureCollection",
            "layer": name,
            "zoom": zoom,
            "total": len(idx),
            "truncated": False,
            "clustered": False,
        }
        dec = 5 if zoom < 12 else 6 if zoom < 16 else 7
        if name == "pipes":
            out["features"] = pipe_features(lay, idx, zoom, limit, dec, out)
        elif name == "dmas":
            out["features"] = polygon_features(lay, idx, zoom, limit, dec, out)
        else:
            out["features"] = point_features(
                lay, idx, zoom, limit, dec, out, cluster_below=CLUSTER_BELOW[name]
            )
        return out

    def spatial_index(self) -> SpatialIndex:
        """The :class:`SpatialIndex` (metres, for pick / nearest) built from these arrays:
        vectorised, so seconds rather than minutes for a million pipes."""
        proj = geo.projector(self.crs)
        pipes = self.layers["pipes"]
        x, y = proj.to_xy(pipes.coords[:, 0], pipes.coords[:, 1])
        sizes = np.diff(pipes.offsets)
        lines = (
            shapely.linestrings(
                np.column_stack([x, y]), indices=np.repeat(np.arange(len(sizes)), sizes)
            )
            if len(sizes)
            else np.array([], dtype=object)
        )
        lines = np.asarray(lines, dtype=object)
        is_pipe = np.array([k == "pipe" for k in pipes.props["kind"]], dtype=bool)
        layers: dict[str, tuple[Sequence[str], Any]] = {
            "pipes": ([i for i, p in zip(pipes.ids, is_pipe, strict=True) if p], lines[is_pipe]),
            "links": (
                [i for i, p in zip(pipes.ids, is_pipe, strict=True) if not p],
                lines[~is_pipe],
            ),
        }
        pts = {
            "nodes": ("junctions", "sources"),
            "valves": ("valves",),
            "hydrants": ("hydrants",),
            "customers": ("customers",),
            "sensors": ("sensors",),
        }
        for target, sources in pts.items():
            ids = [i for s in sources for i in self.layers[s].ids]
            ll = np.vstack([self.layers[s].lonlat.reshape(-1, 2) for s in sources])
            px, py = proj.to_xy(ll[:, 0], ll[:, 1])
            layers[target] = (
                ids,
                np.asarray(shapely.points(np.column_stack([px, py])), dtype=object).reshape(-1),
            )
        dm = self.layers["dmas"]
        layers["dmas"] = (
            dm.ids,
            np.array(
                [
                    shapely.transform(g, lambda c: np.column_stack(proj.to_xy(c[:, 0], c[:, 1])))
                    for g in dm.geoms
                ],
                dtype=object,
            ),
        )
        return SpatialIndex(self.crs, layers)


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        a, b, c, d = (float(v) for v in bbox)
    except (TypeError, ValueError):
        a = b = c = d = math.nan
    ok = all(math.isfinite(v) for v in (a, b, c, d)) and a <= c and b <= d
    if not ok or not (-180 <= a <= 180 and -180 <= c <= 180 and -90 <= b <= 90 and -90 <= d <= 90):
        raise ValidationFailed(
            "bad bbox", details=[{"field": "bbox", "problem": "min_lon,min_lat,max_lon,max_lat"}]
        )
    return a, b, c, d


def _extent(lay: Layer) -> tuple[float, float, float, float]:
    if lay.extent is None:
        if len(lay.bounds):
            b = lay.bounds
            e = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
        elif len(lay.lonlat):
            lo, hi = lay.lonlat.min(axis=0), lay.lonlat.max(axis=0)
            e = (lo[0], lo[1], hi[0], hi[1])
        elif lay.geoms is not None and len(lay.geoms):
            e = tuple(shapely.total_bounds(lay.geoms))
        else:
            e = (np.inf, np.inf, -np.inf, -np.inf)  # an empty layer: never "all of it"
        lay.extent = (float(e[0]), float(e[1]), float(e[2]), float(e[3]))
    return lay.extent


def _mercator(ll: F64) -> F64:
    """Web-mercator world coordinates at zoom 0 (0..256)."""
    lat = np.radians(np.clip(ll[:, 1], -85.0511, 85.0511))
    return np.column_stack(
        [
            (ll[:, 0] + 180.0) / 360.0 * 256.0,
            (1.0 - np.arcsinh(np.tan(lat)) / math.pi) / 2.0 * 256.0,
        ]
    )


def _lines_layer(
    model: NetworkModel, links: list[Any], s: I64, e: I64, nlon: F64, nlat: F64
) -> Layer:
    m = len(links)
    if any(lk.vertices for lk in links):
        parts = [
            np.array([(nlon[a], nlat[a]), *lk.vertices, (nlon[b], nlat[b])])
            for lk, a, b in zip(links, s.tolist(), e.tolist(), strict=True)
        ]
        sizes = np.array([len(p) for p in parts], dtype=np.int64)
        coords = np.concatenate(parts) if parts else np.zeros((0, 2))
    else:
        sizes = np.full(m, 2, dtype=np.int64)
        coords = np.empty((2 * m, 2))
        coords[0::2, 0], coords[0::2, 1] = nlon[s], nlat[s]
        coords[1::2, 0], coords[1::2, 1] = nlon[e], nlat[e]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    if m:
        starts = offsets[:-1]
        lo = np.column_stack([np.minimum.reduceat(coords[:, k], starts) for k in (0, 1)])
        hi = np.column_stack([np.maximum.reduceat(coords[:, k], starts) for k in (0, 1)])
        tree = STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]))
        bounds = np.column_stack([lo, hi])
    else:
        tree = STRtree(np.array([], dtype=object))
        bounds = np.zeros((0, 4))
    diam = [None if lk.kind == "pump" else round(lk.diameter_m * 1000.0, 1) for lk in links]
    rank = np.array(
        [math.inf if lk.kind != "pipe" else lk.diameter_m * 1000.0 for lk in links],
        dtype=np.float64,
    )
    props = {
        "kind": [lk.kind for lk in links],
        "diameter_mm": diam,
        "status": [lk.status for lk in links],
        "length_m": [round(lk.length_m, 2) for lk in links],
    }
    return Layer(
        ids=[lk.id for lk in links],
        coords=coords,
        offsets=offsets,
        rank=rank,
        bounds=bounds,
        tree=tree,
        props=props,
        length=np.array(props["length_m"], dtype=np.float64),
    )


def _valves_layer(model: NetworkModel, nidx: dict[str, int], nlon: F64, nlat: F64) -> Layer:
    """Valves where the spatial index draws them: ``VALVE_OFFSET_M`` (at most a third of the
    first segment) from their node towards the link's next vertex."""
    links = model.link_by_id
    vs = model.valves
    lon, lat = _col([v.lon for v in vs]), _col([v.lat for v in vs])
    need = [k for k in range(len(vs)) if np.isnan(lon[k]) or np.isnan(lat[k])]
    ok = [k for k in need if vs[k].link in links and vs[k].node in nidx]
    if ok:
        a = np.array([nidx[vs[k].node] for k in ok], dtype=np.int64)
        nxt = np.empty((len(ok), 2))
        for r, k in enumerate(ok):
            lk = links[vs[k].link]
            at_start = lk.start == vs[k].node
            if lk.vertices:
                nxt[r] = lk.vertices[0] if at_start else lk.vertices[-1]
            else:
                o = nidx.get(lk.end if at_start else lk.start, a[r])
                nxt[r] = (nlon[o], nlat[o])
        proj = geo.projector(model.crs)
        ax, ay = proj.to_xy(nlon[a], nlat[a])
        bx, by = proj.to_xy(nxt[:, 0], nxt[:, 1])
        d = np.hypot(bx - ax, by - ay)
        f = np.minimum(VALVE_OFFSET_M, d / 3.0) / np.maximum(d, 1e-9)
        vx, vy = proj.to_lonlat(ax + (bx - ax) * f, ay + (by - ay) * f)
        sel = np.array(ok, dtype=np.int64)
        lon[sel], lat[sel] = vx, vy
    inoperable = np.array([not v.operable for v in vs], dtype=bool)
    return _points_layer(
        [v.id for v in vs],
        lon,
        lat,
        {
            "link": [v.link for v in vs],
            "node": [v.node for v in vs],
            "operable": [v.operable for v in vs],
            "normal": [v.normal for v in vs],
            "type": [v.type for v in vs],
            "diameter_mm": [v.diameter_mm for v in vs],
        },
        {"inoperable": inoperable},
    )
