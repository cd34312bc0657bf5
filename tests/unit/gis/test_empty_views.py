"""Map layers for any view: empty areas answer an empty FeatureCollection (never an error), and
the DMA layer only holds the polygons that meet the bbox."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from waternet.demo.city import build_demo_city
from waternet.gis.layers import LAYERS, MAX_ZOOM, MapLayers


@pytest.fixture(scope="module")
def layers() -> MapLayers:
    return MapLayers.from_model(build_demo_city("small", seed=7))


def _extent(layers: MapLayers) -> tuple[float, float, float, float]:
    ll = layers.layers["junctions"].lonlat
    lo, hi = ll.min(axis=0), ll.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _check(layers: MapLayers, bbox: tuple[float, float, float, float], zoom: int) -> None:
    box = shapely.box(*bbox)
    for name in LAYERS:
        doc = layers.geojson(name, bbox, zoom, limit=200)
        assert doc["type"] == "FeatureCollection"
        feats: list[dict[str, Any]] = doc["features"]
        assert len(feats) <= 200
        if doc["total"] == 0:
            assert feats == [] and not doc["truncated"]
        if name == "dmas":
            lay = layers.layers["dmas"]
            meeting = {lay.ids[i] for i, g in enumerate(lay.geoms) if shapely.intersects(g, box)}
            assert {f["id"] for f in feats} == meeting
        elif name != "pipes" and not doc["clustered"]:
            for f in feats:
                lon, lat = f["geometry"]["coordinates"]
                assert bbox[0] - 1e-5 <= lon <= bbox[2] + 1e-5
                assert bbox[1] - 1e-5 <= lat <= bbox[3] + 1e-5


coord = st.floats(-0.2, 1.2, allow_nan=False)
size = st.one_of(st.just(0.0), st.floats(0.0, 0.6, allow_nan=False))


@settings(max_examples=150, deadline=None)
@given(fx=coord, fy=coord, w=size, h=size, zoom=st.integers(0, MAX_ZOOM))
def test_any_view_answers_a_feature_collection(
    layers: MapLayers, fx: float, fy: float, w: float, h: float, zoom: int
) -> None:
    """Random boxes around and inside the city (fractions of its extent; zero-width boxes and
    boxes outside it included) at every zoom."""
    x0, y0, x1, y1 = _extent(layers)
    lon, lat = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
    bbox = (lon, lat, min(lon + w * (x1 - x0), 180.0), min(lat + h * (y1 - y0), 90.0))
    _check(layers, bbox, zoom)


@pytest.mark.parametrize("zoom", [8, 12, 14, 16])
def test_empty_area_beside_the_city(layers: MapLayers, zoom: int) -> None:
    _x0, _y0, x1, y1 = _extent(layers)
    bbox = (x1 + 0.05, y1 + 0.05, x1 + 0.06, y1 + 0.06)
    for name in LAYERS:
        doc = layers.geojson(name, bbox, zoom)
        assert doc["features"] == [] and doc["total"] == 0, name


def test_zero_width_box_inside_the_city(layers: MapLayers) -> None:
    x0, y0, x1, y1 = _extent(layers)
    mid = (x0 + x1) / 2.0
    for zoom in range(8, 17):
        doc = layers.geojson("customers", (mid, y0, mid, y1), zoom)
        assert doc["total"] == len(layers.bbox_indices("customers", (mid, y0, mid, y1)))
