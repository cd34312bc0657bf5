"""Use cases of the map: a version's layers by bbox and zoom, and what is under a clicked point.

The layers and the spatial index are derived from a loaded network version once, and cached with
it (:meth:`waternet.network.cache.LoadedNetwork.derived`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from waternet.gis.layers import MapLayers
from waternet.network.cache import LoadedNetwork
from waternet.network.spatial import SpatialIndex


def map_layers(net: LoadedNetwork) -> MapLayers:
    """The version's map layers (arrays for GeoJSON by bbox and zoom)."""
    return net.derived("gis.layers", lambda: MapLayers.from_model(net.model))


def spatial_index(net: LoadedNetwork) -> SpatialIndex:
    """The version's spatial index (metres; pick and nearest)."""
    return net.derived("gis.spatial", lambda: map_layers(net).spatial_index())


def layer_geojson(
    net: LoadedNetwork, layer: str, bbox: Sequence[float], zoom: int, *, limit: int
) -> dict[str, Any]:
    """GeoJSON of one layer in a bbox at a zoom, tagged with the version."""
    doc = map_layers(net).geojson(layer, bbox, zoom, limit=limit)
    doc["version"] = net.version_id
    return doc


def pick(
    net: LoadedNetwork, *, lon: float, lat: float, tolerance_m: float = 10.0
) -> dict[str, Any]:
    """The pipe under a clicked point (within ``tolerance_m``; pumps and control valves when
    no pipe is there) and the nearest valve and hydrant (any distance)."""
    sp = spatial_index(net)
    hit = sp.pipe_at(lon, lat, tolerance_m=tolerance_m) or sp.nearest(
        "links", lon, lat, max_distance_m=tolerance_m
    )
    out: dict[str, Any] = {
        "version": net.version_id,
        "lon": lon,
        "lat": lat,
        "tolerance_m": tolerance_m,
        "pipe": None,
    }
    if hit is not None:
        lk = net.model.link(hit.id)
        out["pipe"] = {
            "id": hit.id,
            "kind": lk.kind,
            "distance_m": round(hit.distance_m, 2),
            "diameter_mm": round(lk.diameter_m * 1000.0, 1),
            "length_m": round(lk.length_m, 2),
            "status": lk.status,
        }
    for name in ("valve", "hydrant"):
        h = sp.nearest(f"{name}s", lon, lat)
        out[name] = None if h is None else {"id": h.id, "distance_m": round(h.distance_m, 2)}
    return out
