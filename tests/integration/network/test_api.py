"""The network HTTP API: roles, versions, GeoJSON by bbox and zoom, element detail, pick."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.integration.network.helpers import library_inp
from waternet.demo.city import build_demo_city
from waternet.demo.synthetic import synthetic_network
from waternet.gis.layers import MAX_FEATURES
from waternet.gis.service import spatial_index
from waternet.network import service


def get(api: Api, path: str, role: str = "dispatcher", **params: Any) -> Any:
    r = api.client.get(path, headers=api.headers(role), params=params)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def city(api: Api) -> tuple[Api, Any]:
    model = build_demo_city("small")
    vid, _ = service.import_model(api.db_url, model=model, source="demo-city:small")
    return api, (vid, model)


def whole_bbox(model: Any) -> str:
    b = model.summary()["bounds_lonlat"]
    return ",".join(str(v) for v in (b[0] - 0.01, b[1] - 0.01, b[2] + 0.01, b[3] + 0.01))


def test_roles(city: tuple[Api, Any]) -> None:
    api, (vid, _model) = city
    c = api.client
    assert c.get("/api/v1/network/versions").status_code == 401  # type: ignore[attr-defined]
    for role in ("dispatcher", "analyst", "crew"):
        assert len(get(api, "/api/v1/network/versions", role)) == 1
    r = c.post(
        f"/api/v1/network/versions/{vid}/activate",  # type: ignore[attr-defined]
        headers=api.headers("crew"),
    )
    assert r.status_code == 403
    r = c.post(
        "/api/v1/network/versions",
        headers=api.headers("dispatcher"),  # type: ignore[attr-defined]
        files={"file": ("Net1.inp", library_inp("Net1.inp").read_bytes())},
    )
    assert r.status_code == 403


def test_versions_import_and_activate(city: tuple[Api, Any]) -> None:
    api, (vid, _model) = city
    rows = get(api, "/api/v1/network/versions")
    assert rows[0]["id"] == vid and rows[0]["active"] and rows[0]["stats"]["counts"]["links"] == 119
    detail = get(api, f"/api/v1/network/versions/{vid}")
    assert detail["n_warnings"] == len(detail["warnings"])
    r = api.client.post(  # type: ignore[attr-defined]
        "/api/v1/network/versions",
        headers=api.headers("analyst"),
        files={"file": ("Net1.inp", library_inp("Net1.inp").read_bytes())},
        data={"name": "net1", "activate": "false"},
    )
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    assert get(api, f"/api/v1/network/versions/{new}")["active"] is False
    r = api.client.post(
        f"/api/v1/network/versions/{new}/activate",  # type: ignore[attr-defined]
        headers=api.headers("admin"),
    )
    assert r.status_code == 200 and r.json()["active"] is True
    doc = get(api, "/api/v1/network/layers/pipes", bbox="-180,-90,180,90", zoom=18)
    assert doc["version"] == new
    r = api.client.get("/api/v1/network/versions/999", headers=api.headers())  # type: ignore[attr-defined]
    assert r.status_code == 404


def test_layers_by_bbox_and_zoom(city: tuple[Api, Any]) -> None:
    api, (_vid, model) = city
    bbox = whole_bbox(model)
    pipes = get(api, "/api/v1/network/layers/pipes", bbox=bbox, zoom=18)
    assert pipes["type"] == "FeatureCollection" and not pipes["truncated"]
    assert len(pipes["features"]) == pipes["total"] == 119
    f = next(x for x in pipes["features"] if x["properties"]["kind"] == "pipe")
    assert f["geometry"]["type"] == "LineString" and f["properties"]["diameter_mm"] > 0
    # customers: clustered at city zoom, all represented (counts add up)
    cust = get(api, "/api/v1/network/layers/customers", bbox=bbox, zoom=12)
    assert cust["clustered"] and cust["total"] == 1500
    assert len(cust["features"]) < 1500
    assert sum(x["properties"].get("count", 1) for x in cust["features"]) == 1500
    clusters = [x for x in cust["features"] if x["properties"].get("cluster")]
    assert clusters and all("critical" in x["properties"] for x in clusters)
    # a small bbox at street zoom: the points themselves, inside the bbox
    lon, lat = model.customers[0].lon, model.customers[0].lat
    small = f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}"
    near = get(api, "/api/v1/network/layers/customers", bbox=small, zoom=18)
    assert not near["clustered"] and near["total"] == len(near["features"]) >= 1
    for x in near["features"]:
        x_lon, x_lat = x["geometry"]["coordinates"]
        assert lon - 0.002 <= x_lon <= lon + 0.002 and lat - 0.002 <= x_lat <= lat + 0.002
        assert {"id", "class", "critical"} <= set(x["properties"])
    valves = get(api, "/api/v1/network/layers/valves", bbox=bbox, zoom=19)
    assert len(valves["features"]) == 141
    assert {"operable", "normal"} <= set(valves["features"][0]["properties"])
    dmas = get(api, "/api/v1/network/layers/dmas", bbox=bbox, zoom=12)
    assert len(dmas["features"]) == len(model.dmas)
    for layer in ("junctions", "sources", "hydrants", "sensors"):
        assert get(api, f"/api/v1/network/layers/{layer}", bbox=bbox, zoom=14)["total"] > 0
    h = api.headers()
    assert (
        api.client.get(
            "/api/v1/network/layers/roads",
            headers=h,  # type: ignore[attr-defined]
            params={"bbox": bbox, "zoom": 3},
        ).status_code
        == 404
    )
    assert (
        api.client.get(
            "/api/v1/network/layers/pipes",
            headers=h,  # type: ignore[attr-defined]
            params={"bbox": "1,2,3", "zoom": 3},
        ).status_code
        == 422
    )


def test_empty_view_is_an_empty_collection(city: tuple[Api, Any]) -> None:
    """A view with nothing in it (beside the city, or zero-width) at map zooms: 200 and an
    empty FeatureCollection for every layer, the DMA polygons included."""
    api, (_vid, model) = city
    b = model.summary()["bounds_lonlat"]
    beside = f"{b[2] + 0.05},{b[3] + 0.05},{b[2] + 0.06},{b[3] + 0.06}"
    for zoom in (8, 12, 16):
        for layer in ("pipes", "junctions", "valves", "hydrants", "customers", "sensors", "dmas"):
            doc = get(api, f"/api/v1/network/layers/{layer}", bbox=beside, zoom=zoom)
            assert doc["type"] == "FeatureCollection"
            assert doc["features"] == [] and doc["total"] == 0, (layer, zoom)
    line = f"{b[2] + 0.05},{b[1]},{b[2] + 0.05},{b[3]}"
    assert get(api, "/api/v1/network/layers/customers", bbox=line, zoom=12)["features"] == []


def test_large_network_never_sent_whole(api: Api) -> None:
    syn = synthetic_network(12_000, seed=3)
    model = syn.to_model()
    service.import_model(api.db_url, model=model, source="synthetic:12000")
    bbox = whole_bbox(model)
    low = get(api, "/api/v1/network/layers/pipes", bbox=bbox, zoom=11)
    assert low["total"] == 12_000 and low["truncated"]
    assert 0 < len(low["features"]) <= MAX_FEATURES
    kept = {f["properties"]["diameter_mm"] for f in low["features"]}
    assert min(kept) == low["min_diameter_mm"] >= 200  # the mains and larger streets first
    capped = get(api, "/api/v1/network/layers/pipes", bbox=bbox, zoom=11, limit=300)
    assert len(capped["features"]) == 300 and capped["truncated"]
    cust = get(api, "/api/v1/network/layers/customers", bbox=bbox, zoom=19)
    assert cust["clustered"] and len(cust["features"]) <= MAX_FEATURES  # over the cap
    assert sum(x["properties"].get("count", 1) for x in cust["features"]) == cust["total"]
    # a city block at street zoom: every pipe of the block, full detail
    net = service.load_active(api.db_url)
    lon, lat = net.model.nodes[5000].lonlat
    block = (lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002)
    street = get(api, "/api/v1/network/layers/pipes", bbox=",".join(map(str, block)), zoom=17)
    expected = set(spatial_index(net).in_bbox(*block, layers=["pipes"])["pipes"])
    assert not street["truncated"] and {f["id"] for f in street["features"]} == expected


def test_element_detail_and_pick(city: tuple[Api, Any]) -> None:
    api, (_vid, model) = city
    pipe = next(lk for lk in model.links if lk.kind == "pipe" and lk.length_m > 200)
    d = get(api, f"/api/v1/network/elements/pipes/{pipe.id}", "crew")
    assert d["properties"]["diameter_m"] == pipe.diameter_m
    assert sorted(d["valves"]) == sorted(v.id for v in model.valves if v.link == pipe.id)
    c = model.customers[10]
    d = get(api, f"/api/v1/network/elements/customers/{c.account}")
    assert d["properties"]["address"] == c.address and d["critical"] == c.critical
    v = model.valves[0]
    assert get(api, f"/api/v1/network/elements/valves/{v.id}")["properties"]["link"] == v.link
    r = api.client.get(
        "/api/v1/network/elements/pipes/NOPE",  # type: ignore[attr-defined]
        headers=api.headers(),
    )
    assert r.status_code == 404
    # click the middle of the pipe
    a, b = model.node(pipe.start), model.node(pipe.end)
    if pipe.vertices:
        lon, lat = pipe.vertices[len(pipe.vertices) // 2]
    else:
        lon, lat = (a.lon + b.lon) / 2, (a.lat + b.lat) / 2  # type: ignore[operator]
    got = get(api, "/api/v1/network/pick", lon=lon, lat=lat, tolerance_m=5)
    assert got["pipe"]["id"] == pipe.id and got["pipe"]["distance_m"] < 5
    assert got["valve"]["id"] in model.valve_by_id and got["hydrant"]["id"] in model.hydrant_by_id
    far = get(api, "/api/v1/network/pick", lon=100.0, lat=10.0, tolerance_m=5)
    assert far["pipe"] is None
