from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from waternet.demo.synthetic import synthetic_network
from waternet.network import geo
from waternet.network.model import NetworkModel
from waternet.network.spatial import SpatialIndex, link_xy


@pytest.fixture(scope="module")
def index(demo_small: NetworkModel) -> SpatialIndex:
    return SpatialIndex.from_model(demo_small)


def _bounds(model: NetworkModel) -> tuple[float, float, float, float]:
    ll = model.node_array("lonlat")
    return (
        float(ll[:, 0].min()),
        float(ll[:, 1].min()),
        float(ll[:, 0].max()),
        float(ll[:, 1].max()),
    )


def brute_nearest(index: SpatialIndex, layer: str, lon: float, lat: float) -> float:
    x, y = index.proj.point_xy(lon, lat)
    geoms = index.layer(layer).geoms
    return float(shapely.distance(geoms, shapely.points(x, y)).min())


points = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0))


@settings(max_examples=40, deadline=None)
@given(p=points)
def test_nearest_matches_brute_force(
    demo_small: NetworkModel, index: SpatialIndex, p: tuple[float, float]
) -> None:
    x0, y0, x1, y1 = _bounds(demo_small)
    lon = x0 - 0.01 + p[0] * (x1 - x0 + 0.02)
    lat = y0 - 0.01 + p[1] * (y1 - y0 + 0.02)
    for layer, fn in (
        ("pipes", index.nearest_pipe),
        ("valves", index.nearest_valve),
        ("hydrants", index.nearest_hydrant),
    ):
        hit = fn(lon, lat)
        assert hit is not None and hit.layer == layer
        assert hit.distance_m == pytest.approx(brute_nearest(index, layer, lon, lat), abs=1e-6)
        # the reported feature really is at that distance
        x, y = index.proj.point_xy(lon, lat)
        g = index.layer(layer).geoms[index.layer_ids(layer).index(hit.id)]
        assert float(shapely.distance(g, shapely.points(x, y))) == pytest.approx(
            hit.distance_m, abs=1e-6
        )


@settings(max_examples=40, deadline=None)
@given(a=points, b=points)
def test_bbox_matches_brute_force(
    demo_small: NetworkModel, index: SpatialIndex, a: tuple[float, float], b: tuple[float, float]
) -> None:
    x0, y0, x1, y1 = _bounds(demo_small)
    lons = sorted(x0 + t * (x1 - x0) for t in (a[0], b[0]))
    lats = sorted(y0 + t * (y1 - y0) for t in (a[1], b[1]))
    got = index.in_bbox(lons[0], lats[0], lons[1], lats[1], layers=["nodes", "hydrants", "pipes"])

    def inside(lon: float, lat: float) -> bool:
        return lons[0] <= lon <= lons[1] and lats[0] <= lat <= lats[1]

    def on_edge(lon: float, lat: float) -> bool:  # within rounding (1e-7 deg) of an edge
        return (
            min(abs(lon - lons[0]), abs(lon - lons[1]), abs(lat - lats[0]), abs(lat - lats[1]))
            < 3e-7
        )

    want_n = {n.id for n in demo_small.nodes if inside(*n.lonlat)}
    edge_n = {n.id for n in demo_small.nodes if on_edge(*n.lonlat)}
    assert set(got["nodes"]) ^ want_n <= edge_n
    hyd = [
        (h.id, h.lon, h.lat) for h in demo_small.hydrants if h.lon is not None and h.lat is not None
    ]
    want_h = {i for i, lon, lat in hyd if inside(lon, lat)}
    edge_h = {i for i, lon, lat in hyd if on_edge(lon, lat)}
    assert set(got["hydrants"]) ^ want_h <= edge_h
    # a pipe is in the box when its lon/lat polyline meets it (pipes are short: straight in
    # lon/lat is the same as straight in metres at this scale)
    box = shapely.box(lons[0], lats[0], lons[1], lats[1])
    want_p = []
    for lk in demo_small.links:
        if lk.kind != "pipe":
            continue
        s, e = demo_small.node(lk.start), demo_small.node(lk.end)
        line = shapely.linestrings([(s.lon, s.lat), *lk.vertices, (e.lon, e.lat)])
        if shapely.intersects(line, box):
            want_p.append(lk.id)
    assert set(got["pipes"]) ^ set(want_p) <= _near_edge(demo_small, box)


def _near_edge(model: NetworkModel, box: shapely.Geometry) -> set[str]:
    """Pipes passing within ~3 cm of the box edge (rounding and projection curvature may
    decide them)."""
    edge = box.boundary
    out = set()
    for lk in model.links:
        s, e = model.node(lk.start), model.node(lk.end)
        line = shapely.linestrings([(s.lon, s.lat), *lk.vertices, (e.lon, e.lat)])
        if shapely.distance(line, edge) < 3e-7:
            out.add(lk.id)
    return out


def test_pipe_under_a_click(demo_small: NetworkModel, index: SpatialIndex) -> None:
    proj = geo.projector(demo_small.crs)
    for lk in demo_small.pipes[::10]:
        xy = link_xy(demo_small, lk)
        assert xy is not None
        mid = shapely.line_interpolate_point(shapely.linestrings(xy), 0.5, normalized=True)
        lon, lat = proj.point_lonlat(float(shapely.get_x(mid)), float(shapely.get_y(mid)))
        hit = index.pipe_at(lon, lat, tolerance_m=2.0)
        assert hit is not None and hit.distance_m < 0.01
        # parallel or crossing pipes may share the point; the hit must pass through it
        g = index.layer("pipes").geoms[index.layer_ids("pipes").index(hit.id)]
        assert float(shapely.distance(g, mid)) < 0.01
    x0, y0, _, _ = _bounds(demo_small)
    assert index.pipe_at(x0 - 0.05, y0 - 0.05, tolerance_m=5.0) is None
    assert index.nearest_valve(x0 - 0.05, y0 - 0.05, max_distance_m=10.0) is None


def test_index_from_arrays_of_a_synthetic_network() -> None:
    net = synthetic_network(3000, seed=3)
    idx = net.spatial_index()
    lon, lat = net.lonlat()
    rng = np.random.default_rng(0)
    for i in rng.choice(net.n_nodes, 10, replace=False):
        hit = idx.nearest("valves", float(lon[i]), float(lat[i]))
        assert hit is not None and hit.distance_m <= 2.0 + 1e-6
    box = idx.in_bbox(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    assert len(box["pipes"]) == net.n_links
