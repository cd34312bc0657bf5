"""Spatial index over a network (Shapely 2 STRtree): nearest pipe / valve / hydrant to a point,
features in a bounding box, the pipe under a clicked point.

Queries take WGS84 lon/lat and return distances in metres: geometries are indexed in the
model's projected metre CRS and query points are projected into it.

Layers: ``pipes`` (links of kind pipe), ``links`` (pumps and control valves), ``nodes``,
``valves``, ``hydrants``, ``customers``, ``sensors`` (points), ``dmas`` (polygons).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely import STRtree

from waternet.errors import NotFound
from waternet.network import geo
from waternet.network.model import Link, NetworkModel

VALVE_OFFSET_M = 2.0  # a valve is drawn this far from its node along its link
LINE_LAYERS = ("pipes", "links")
POINT_LAYERS = ("nodes", "valves", "hydrants", "customers", "sensors")
ALL_LAYERS = (*LINE_LAYERS, *POINT_LAYERS, "dmas")


@dataclass(frozen=True)
class Hit:
    layer: str
    id: str
    distance_m: float


class SpatialLayer:
    def __init__(self, ids: Sequence[str], geoms: NDArray[np.object_]) -> None:
        self.ids = list(ids)
        self.geoms = geoms
        self.tree = STRtree(geoms)


class SpatialIndex:
    """Build with :meth:`from_model` or :meth:`from_arrays` (large synthetic networks)."""

    def __init__(
        self, crs: str, layers: Mapping[str, tuple[Sequence[str], NDArray[np.object_]]]
    ) -> None:
        self.crs = crs
        self.proj = geo.projector(crs)
        self._layers = {name: SpatialLayer(ids, g) for name, (ids, g) in layers.items()}

    # ----- construction --------------------------------------------------------------------
    @classmethod
    def from_model(cls, model: NetworkModel) -> SpatialIndex:
        nodes = model.node_by_id
        lines: dict[str, tuple[list[str], list[NDArray[np.float64]]]] = {
            "pipes": ([], []),
            "links": ([], []),
        }
        link_geom: dict[str, NDArray[np.float64]] = {}
        for lk in model.links:
            xy = link_xy(model, lk)
            if xy is None:
                continue
            link_geom[lk.id] = xy
            ids, coords = lines["pipes" if lk.kind == "pipe" else "links"]
            ids.append(lk.id)
            coords.append(xy)
        layers: dict[str, tuple[Sequence[str], NDArray[np.object_]]] = {}
        for name, (ids, coords) in lines.items():
            layers[name] = (ids, _linestrings(coords))
        node_pts = {n.id: (n.x, n.y) for n in model.nodes if n.x is not None and n.y is not None}
        layers["nodes"] = _points(node_pts.items())
        proj = geo.projector(model.crs)

        def own(lon: float | None, lat: float | None) -> tuple[float, float] | None:
            return None if lon is None or lat is None else proj.point_xy(lon, lat)

        def at(node: str | None, link: str | None) -> tuple[float, float] | None:
            if node is not None and node in node_pts:
                return node_pts[node]  # type: ignore[return-value,unused-ignore]
            if link is not None and link in link_geom:
                line = shapely.linestrings(link_geom[link])
                p = shapely.line_interpolate_point(line, 0.5, normalized=True)
                return float(shapely.get_x(p)), float(shapely.get_y(p))
            return None

        valves: list[tuple[str, tuple[float, float] | None]] = []
        for v in model.valves:
            vxy = own(v.lon, v.lat)
            if vxy is None and v.link in link_geom and v.node in nodes:
                vxy = valve_xy(link_geom[v.link], at_start=model.link(v.link).start == v.node)
            valves.append((v.id, vxy))
        layers["valves"] = _points(valves)
        layers["hydrants"] = _points(
            (h.id, own(h.lon, h.lat) or at(h.node, None)) for h in model.hydrants
        )
        layers["customers"] = _points(
            (c.account, own(c.lon, c.lat) or at(c.node, c.link)) for c in model.customers
        )
        layers["sensors"] = _points(
            (s.code, own(s.lon, s.lat) or at(s.node, s.link)) for s in model.sensors
        )
        dma_ids, dma_geoms = [], []
        for d in model.dmas:
            if d.geometry is None:
                continue
            g = shapely.geometry.shape(d.geometry)
            dma_ids.append(d.code)
            dma_geoms.append(
                shapely.transform(g, lambda c: np.column_stack(proj.to_xy(c[:, 0], c[:, 1])))
            )
        layers["dmas"] = (dma_ids, np.array(dma_geoms, dtype=object))
        return cls(model.crs, layers)

    @classmethod
    def from_arrays(
        cls,
        *,
        crs: str,
        link_ids: Sequence[str],
        node_xy: ArrayLike,
        link_start: ArrayLike,
        link_end: ArrayLike,
        points: Mapping[str, tuple[Sequence[str], ArrayLike]] | None = None,
    ) -> SpatialIndex:
        """Straight pipes from node coordinates (metres in ``crs``); ``points`` maps a point
        layer name to (ids, (k, 2) metres)."""
        xy = np.asarray(node_xy, dtype=np.float64)
        s = np.asarray(link_start, dtype=np.int64)
        e = np.asarray(link_end, dtype=np.int64)
        coords = np.stack([xy[s], xy[e]], axis=1)
        layers: dict[str, tuple[Sequence[str], NDArray[np.object_]]] = {
            "pipes": (link_ids, shapely.linestrings(coords))
        }
        for name, (ids, pxy) in (points or {}).items():
            p = np.asarray(pxy, dtype=np.float64).reshape(-1, 2)
            layers[name] = (ids, shapely.points(p))
        return cls(crs, layers)

    # ----- queries -------------------------------------------------------------------------
    def layer_ids(self, layer: str) -> list[str]:
        return self.layer(layer).ids

    def layer(self, layer: str) -> SpatialLayer:
        try:
            return self._layers[layer]
        except KeyError:
            raise NotFound(f"no spatial layer {layer!r}; have {sorted(self._layers)}") from None

    def nearest(
        self, layer: str, lon: float, lat: float, *, max_distance_m: float | None = None
    ) -> Hit | None:
        """Nearest feature of ``layer`` to (lon, lat), or None (empty layer / none in range)."""
        x, y = self.proj.point_xy(lon, lat)
        return self.nearest_xy(layer, x, y, max_distance_m=max_distance_m)

    def nearest_xy(
        self, layer: str, x: float, y: float, *, max_distance_m: float | None = None
    ) -> Hit | None:
        lay = self.layer(layer)
        if not lay.ids:
            return None
        idx, dist = lay.tree.query_nearest(
            shapely.points(x, y),
            max_distance=max_distance_m,
            return_distance=True,
            all_matches=False,
        )
        if len(idx) == 0:
            return None
        return Hit(layer, lay.ids[int(idx[0])], float(dist[0]))

    def nearest_pipe(
        self, lon: float, lat: float, *, max_distance_m: float | None = None
    ) -> Hit | None:
        return self.nearest("pipes", lon, lat, max_distance_m=max_distance_m)

    def nearest_valve(
        self, lon: float, lat: float, *, max_distance_m: float | None = None
    ) -> Hit | None:
        return self.nearest("valves", lon, lat, max_distance_m=max_distance_m)

    def nearest_hydrant(
        self, lon: float, lat: float, *, max_distance_m: float | None = None
    ) -> Hit | None:
        return self.nearest("hydrants", lon, lat, max_distance_m=max_distance_m)

    def pipe_at(self, lon: float, lat: float, *, tolerance_m: float = 5.0) -> Hit | None:
        """The pipe under a clicked point: the nearest pipe within ``tolerance_m``."""
        return self.nearest("pipes", lon, lat, max_distance_m=tolerance_m)

    def bbox_indices(
        self, layer: str, min_lon: float, min_lat: float, max_lon: float, max_lat: float
    ) -> NDArray[np.int64]:
        """Sorted positions (in :meth:`layer_ids` order) of features meeting the box."""
        lay = self.layer(layer)
        if not lay.ids:
            return np.zeros(0, dtype=np.int64)
        box = self._box_xy(min_lon, min_lat, max_lon, max_lat)
        return np.sort(lay.tree.query(box, predicate="intersects")).astype(np.int64)

    def in_bbox(
        self,
        min_lon: float,
        min_lat: float,
        max_lon: float,
        max_lat: float,
        *,
        layers: Iterable[str] | None = None,
    ) -> dict[str, list[str]]:
        """Ids per layer of the features meeting the lon/lat box (edges included)."""
        out: dict[str, list[str]] = {}
        for name in layers if layers is not None else self._layers:
            lay = self.layer(name)
            out[name] = [
                lay.ids[i] for i in self.bbox_indices(name, min_lon, min_lat, max_lon, max_lat)
            ]
        return out

    def _box_xy(
        self, min_lon: float, min_lat: float, max_lon: float, max_lat: float
    ) -> shapely.Geometry:
        """The lon/lat box as a polygon in metres (edges densified: they bend in projection)."""
        t = np.linspace(0.0, 1.0, 9)
        lon = np.concatenate(
            [
                min_lon + (max_lon - min_lon) * t,
                np.full(9, max_lon),
                max_lon - (max_lon - min_lon) * t,
                np.full(9, min_lon),
            ]
        )
        lat = np.concatenate(
            [
                np.full(9, min_lat),
                min_lat + (max_lat - min_lat) * t,
                np.full(9, max_lat),
                max_lat - (max_lat - min_lat) * t,
            ]
        )
        x, y = self.proj.to_xy(lon, lat)
        return shapely.polygons(np.column_stack([x, y]))


def link_xy(model: NetworkModel, link: Link) -> NDArray[np.float64] | None:
    """The link's polyline in metres: start node, interior vertices, end node."""
    nodes = model.node_by_id
    a, b = nodes.get(link.start), nodes.get(link.end)
    if a is None or b is None or a.x is None or a.y is None or b.x is None or b.y is None:
        return None
    pts = [(a.x, a.y), *link.vertices_xy, (b.x, b.y)]
    return np.asarray(pts, dtype=np.float64)


def valve_xy(line_xy: NDArray[np.float64], *, at_start: bool) -> tuple[float, float]:
    """Where a valve is drawn: ``VALVE_OFFSET_M`` (at most a third of the link) from its node."""
    line = shapely.linestrings(line_xy)
    length = float(shapely.length(line))
    d = min(VALVE_OFFSET_M, length / 3.0)
    p = shapely.line_interpolate_point(line, d if at_start else length - d)
    return float(shapely.get_x(p)), float(shapely.get_y(p))


def _linestrings(coords: list[NDArray[np.float64]]) -> NDArray[np.object_]:
    if not coords:
        return np.array([], dtype=object)
    sizes = np.fromiter((len(c) for c in coords), dtype=np.int64, count=len(coords))
    flat = np.concatenate(coords)
    return np.asarray(shapely.linestrings(flat, indices=np.repeat(np.arange(len(coords)), sizes)))


def _points(
    items: Iterable[tuple[str, tuple[float, float] | None]],
) -> tuple[list[str], NDArray[np.object_]]:
    ids: list[str] = []
    xy: list[tuple[float, float]] = []
    for i, p in items:
        if p is not None:
            ids.append(i)
            xy.append(p)
    arr = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return ids, np.asarray(shapely.points(arr)) if len(ids) else np.array([], dtype=object)
