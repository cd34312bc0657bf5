"""GeoJSON features of a map layer's arrays (pure): lines, polygons, and points clustered on a
pixel grid; the thresholds are described in :mod:`waternet.gis.layers` and docs/network.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

CLUSTER_CELL_PX = 64
SIMPLIFY_BELOW = 16
SIMPLIFY_PX = 0.5


@dataclass(eq=False)
class Layer:
    """Features of one map layer: ids, lon/lat geometry, property columns, an STRtree."""

    ids: list[str]
    props: dict[str, list[Any]]
    lonlat: F64 = field(default_factory=lambda: np.zeros((0, 2)))  # points
    coords: F64 = field(default_factory=lambda: np.zeros((0, 2)))  # lines: flat vertices
    offsets: I64 = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    rank: F64 = field(default_factory=lambda: np.zeros(0))  # lines: diameter_mm (inf = keep)
    bounds: F64 = field(default_factory=lambda: np.zeros((0, 4)))  # lines: lon/lat boxes
    length: F64 = field(default_factory=lambda: np.zeros(0))  # lines: metres
    merc: F64 = field(default_factory=lambda: np.zeros((0, 2)))  # points: web mercator, zoom 0
    extent: tuple[float, float, float, float] | None = None  # lon/lat bounds of the layer
    flags: dict[str, NDArray[np.bool_]] = field(default_factory=dict)  # counted in clusters
    geoms: Any = None  # polygons (shapely, lon/lat)
    tree: STRtree | None = None

    def __len__(self) -> int:
        return len(self.ids)


def mercator(ll: F64) -> F64:
    """Web-mercator world coordinates at zoom 0 (0..256)."""
    lat = np.radians(np.clip(ll[:, 1], -85.0511, 85.0511))
    return np.column_stack(
        [
            (ll[:, 0] + 180.0) / 360.0 * 256.0,
            (1.0 - np.arcsinh(np.tan(lat)) / math.pi) / 2.0 * 256.0,
        ]
    )


def deg_per_px(zoom: int) -> float:
    return 360.0 / (256.0 * 2.0**zoom)


def _props(lay: Layer, i: int) -> dict[str, Any]:
    return {"id": lay.ids[i], **{k: v[i] for k, v in lay.props.items()}}


def _round_geom(g: Any, dec: int) -> Any:
    if isinstance(g, dict):
        return {k: _round_geom(v, dec) for k, v in g.items()}
    if isinstance(g, list | tuple):
        return [_round_geom(v, dec) for v in g]
    return round(g, dec) if isinstance(g, float) else g


def pipe_features(
    lay: Layer, idx: I64, zoom: int, limit: int, dec: int, out: dict[str, Any]
) -> list[dict[str, Any]]:
    min_d = 0.0
    if len(idx) > limit:
        out["truncated"] = True
        r = np.nan_to_num(lay.rank[idx], nan=0.0)
        classes = np.unique(r)[::-1]
        counts = np.array([(r >= c).sum() for c in classes]) if len(classes) < 64 else None
        if counts is not None and (counts <= limit).any():
            min_d = float(classes[np.flatnonzero(counts <= limit)[-1]])
            idx = idx[r >= min_d]
        else:  # too many classes or the largest alone is too many: largest, then longest
            key = np.minimum(r, 1e6) * 1e7 + np.minimum(lay.length[idx], 1e6)
            order = np.argpartition(-key, limit - 1)[:limit]
            idx = np.sort(idx[order])
            min_d = float(r[order].min())
    out["min_diameter_mm"] = None if math.isinf(min_d) else min_d
    tol = SIMPLIFY_PX * deg_per_px(zoom) if zoom < SIMPLIFY_BELOW else 0.0
    # gather and round the selected lines' vertices at once, then slice per feature
    sizes = np.diff(lay.offsets)[idx]
    ends = np.cumsum(sizes)
    rows = np.repeat(lay.offsets[idx] - (ends - sizes), sizes) + np.arange(
        int(ends[-1]) if len(idx) else 0
    )
    flat = np.round(lay.coords[rows], dec).tolist()
    cols = list(lay.props.items())
    feats = []
    for i, a, b in zip(idx.tolist(), (ends - sizes).tolist(), ends.tolist(), strict=True):
        c: Any = flat[a:b]
        if tol and len(c) > 2:
            c = np.round(
                shapely.get_coordinates(shapely.simplify(shapely.linestrings(c), tol)), dec
            ).tolist()
        props = {"id": lay.ids[i]}
        props.update((name, col[i]) for name, col in cols)
        feats.append(
            {
                "type": "Feature",
                "id": lay.ids[i],
                "properties": props,
                "geometry": {"type": "LineString", "coordinates": c},
            }
        )
    return feats


def polygon_features(
    lay: Layer, idx: I64, zoom: int, limit: int, dec: int, out: dict[str, Any]
) -> list[dict[str, Any]]:
    """The polygons ``idx`` (at most ``limit``), simplified to ``SIMPLIFY_PX`` below
    ``SIMPLIFY_BELOW``."""
    out["truncated"] = len(idx) > limit
    idx = idx[:limit]
    tol = SIMPLIFY_PX * deg_per_px(zoom) if zoom < SIMPLIFY_BELOW else 0.0
    geoms = lay.geoms[idx]
    if tol and len(geoms):
        geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    return [
        {
            "type": "Feature",
            "id": lay.ids[i],
            "geometry": _round_geom(shapely.geometry.mapping(g), dec),
            "properties": _props(lay, i),
        }
        for i, g in zip(idx.tolist(), geoms, strict=True)
    ]


def point_features(
    lay: Layer,
    idx: I64,
    zoom: int,
    limit: int,
    dec: int,
    out: dict[str, Any],
    *,
    cluster_below: int,
) -> list[dict[str, Any]]:
    def point(i: int) -> dict[str, Any]:
        lon, lat = lay.lonlat[i]
        return {
            "type": "Feature",
            "id": lay.ids[i],
            "properties": _props(lay, i),
            "geometry": {
                "type": "Point",
                "coordinates": [round(float(lon), dec), round(float(lat), dec)],
            },
        }

    if not len(idx):  # an empty view: nothing to cluster
        return []
    if zoom >= cluster_below and len(idx) <= limit:
        return [point(i) for i in idx.tolist()]
    out["clustered"] = True
    ll = lay.lonlat[idx]
    pm = lay.merc[idx] * 2.0**zoom  # pixels at this zoom
    cell = float(CLUSTER_CELL_PX)
    while True:
        cx = np.floor(pm[:, 0] / cell).astype(np.int64)
        cy = np.floor(pm[:, 1] / cell).astype(np.int64)
        cx -= cx.min()
        cy -= cy.min()
        ny = int(cy.max()) + 1
        key = cx * ny + cy
        if (int(cx.max()) + 1) * ny <= 4 * len(key) + 4096:  # dense grid: O(n) counting
            dense = np.bincount(key)
            uniq = np.flatnonzero(dense)
            remap = np.zeros(len(dense), dtype=np.int64)
            remap[uniq] = np.arange(len(uniq))
            inv, count = remap[key], dense[uniq]
        else:
            uniq, inv, count = np.unique(key, return_inverse=True, return_counts=True)
        if len(uniq) <= limit:
            break
        cell *= 2.0
    out["cell_px"] = cell
    clon = np.bincount(inv, weights=ll[:, 0]) / count
    clat = np.bincount(inv, weights=ll[:, 1]) / count
    flag_counts = {
        k: np.bincount(inv, weights=v[idx].astype(np.float64), minlength=len(uniq))
        for k, v in lay.flags.items()
    }
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[inv[::-1]] = idx[::-1]
    feats = []
    for c in range(len(uniq)):
        if count[c] == 1:
            feats.append(point(int(first[c])))
            continue
        props: dict[str, Any] = {"cluster": True, "count": int(count[c])}
        props.update({k: int(v[c]) for k, v in flag_counts.items()})
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(clon[c]), dec), round(float(clat[c]), dec)],
                },
            }
        )
    return feats
