"""The map: a network version's layers by bbox and zoom, and what lies under a click."""

from __future__ import annotations

from waternet.gis.layers import MAX_FEATURES, MAX_ZOOM, MapLayers, check_bbox
from waternet.gis.service import layer_geojson, map_layers, pick, spatial_index

__all__ = [
    "MAX_FEATURES",
    "MAX_ZOOM",
    "MapLayers",
    "check_bbox",
    "layer_geojson",
    "map_layers",
    "pick",
    "spatial_index",
]
