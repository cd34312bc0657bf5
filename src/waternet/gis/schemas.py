"""HTTP shapes of the map: GeoJSON (RFC 7946, WGS84 lon/lat) features and collections, and the
map layers' FeatureCollection with its extra members."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Position = list[float]  # [lon, lat]


class Geometry(BaseModel):
    """A GeoJSON geometry: Point ([lon, lat]), LineString ([[lon, lat], ...]), Polygon and
    MultiPolygon (rings of positions)."""

    type: Literal["Point", "LineString", "Polygon", "MultiPolygon"]
    coordinates: Position | list[Position] | list[list[Position]] | list[list[list[Position]]]


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str | int | None = Field(default=None, description="element id (absent on clusters)")
    geometry: Geometry
    properties: dict[str, Any] = Field(
        description="element attributes; what they are depends on the layer or role"
    )


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]


class LayerCollection(FeatureCollection):
    """One map layer in a bbox at a zoom (``application/geo+json``)."""

    version: int = Field(description="network version")
    layer: str
    zoom: int
    total: int = Field(description="features of the layer in the bbox")
    truncated: bool = Field(description="some features were left out (limit, or zoom filter)")
    clustered: bool = Field(description="point features were merged into clusters")
    min_diameter_mm: float | None = Field(
        default=None, description="pipes: smallest diameter drawn at this zoom"
    )
