from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from waternet.errors import ValidationFailed
from waternet.network import geo
from waternet.network.importers import (
    import_layers,
    import_network,
    layer_collections,
    write_layers,
)
from waternet.network.model import NetworkModel

from .conftest import TINY_INP, tiny_model


def feature(fc: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    return next(f for f in fc["features"] if f["properties"].get(key) == value)


def test_layer_set_of_a_model_imports_back() -> None:
    m = tiny_model()
    back, report = import_layers(layer_collections(m), name="tiny")
    assert report.ok, report.issues
    assert back.counts() == m.counts()
    assert back.crs == m.crs
    for a in m.nodes:
        b = back.node(a.id)
        assert math.dist(a.xy, b.xy) < 0.05
    assert [(v.id, v.link, v.node, v.operable) for v in back.valves] == [
        (v.id, v.link, v.node, v.operable) for v in m.valves
    ]
    assert [(c.account, c.node, c.link, c.customer_class) for c in back.customers] == [
        (c.account, c.node, c.link, c.customer_class) for c in m.customers
    ]
    assert back.dmas[0].boundary_meters == m.dmas[0].boundary_meters


def test_pipe_ends_snap_to_nodes_and_lengths_come_from_geometry() -> None:
    layers = layer_collections(tiny_model())
    for f in layers["pipes"]["features"]:
        for k in ("from_node", "to_node", "length_m"):
            f["properties"].pop(k)
    m, report = import_layers(layers)
    assert report.ok, report.issues
    p2 = m.link("P2")
    assert (p2.start, p2.end) == ("J1", "J2")
    assert p2.length_m == pytest.approx(100.0, abs=0.05)


def test_projected_layers_are_reprojected_to_wgs84() -> None:
    m = tiny_model()
    layers = layer_collections(m)
    for fc in layers.values():
        fc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
        for f in fc["features"]:
            g = f["geometry"]
            if g is None:
                continue
            if g["type"] == "Point":
                x, y = geo.transform(geo.WGS84, 3857, [g["coordinates"][0]], [g["coordinates"][1]])
                g["coordinates"] = [float(x[0]), float(y[0])]
            elif g["type"] == "LineString":
                xs, ys = zip(*g["coordinates"], strict=True)
                x, y = geo.transform(geo.WGS84, 3857, xs, ys)
                g["coordinates"] = [[float(a), float(b)] for a, b in zip(x, y, strict=True)]
            else:
                ring = g["coordinates"][0]
                xs, ys = zip(*ring, strict=True)
                x, y = geo.transform(geo.WGS84, 3857, xs, ys)
                g["coordinates"] = [[[float(a), float(b)] for a, b in zip(x, y, strict=True)]]
    back, report = import_layers(layers)
    assert report.ok, report.issues
    for a in m.nodes:
        b = back.node(a.id)
        assert b.lon == pytest.approx(a.lon, abs=1e-6) and b.lat == pytest.approx(a.lat, abs=1e-6)


def broken_layers() -> dict[str, Any]:
    layers = copy.deepcopy(layer_collections(tiny_model()))
    # dangling valve, valve at a node not on its link
    feature(layers["valves"], "valve", "V1")["properties"]["link"] = "P404"
    feature(layers["valves"], "valve", "V2")["properties"]["node"] = "J4"
    # duplicate pipe id
    dup = copy.deepcopy(feature(layers["pipes"], "id", "P3"))
    layers["pipes"]["features"].append(dup)
    # customer on an unknown node
    feature(layers["customers"], "account", "A1")["properties"]["node"] = "J404"
    # unreadable geometries
    feature(layers["pipes"], "id", "P4")["geometry"] = {
        "type": "LineString",
        "coordinates": "garbage",
    }
    feature(layers["hydrants"], "id", "H1")["geometry"] = {
        "type": "LineString",
        "coordinates": [[0, 0], [1, 1]],
    }
    feature(layers["junctions"], "id", "J4")["geometry"] = {
        "type": "Point",
        "coordinates": [500.0, 91.0],
    }
    bow = [[117, 31], [117.01, 31.01], [117.01, 31], [117, 31.01], [117, 31]]
    feature(layers["dmas"], "code", "D01")["geometry"] = {"type": "Polygon", "coordinates": [bow]}
    # bad sensor code
    feature(layers["sensors"], "code", "PT-D01-000001")["properties"]["code"] = "PT-D1-7"
    return layers


def test_broken_layer_set_is_refused_with_every_problem_listed() -> None:
    with pytest.raises(ValidationFailed) as exc:
        import_layers(broken_layers())
    got = {(d["code"], d["element"]) for d in exc.value.details if d["severity"] == "error"}
    expected = {
        ("unknown_link", "V1"),
        ("valve_not_at_link_end", "V2"),
        ("duplicate_id", "P3"),
        ("unknown_node", "A1"),
        ("bad_geometry", "P4"),
        ("bad_geometry", "H1"),
        ("bad_geometry", "J4"),
        ("bad_geometry", "D01"),
        ("bad_sensor_code", "PT-D1-7"),
    }
    assert expected <= got, expected - got
    assert "error(s)" in exc.value.message


def test_broken_layer_files_on_disk_are_refused(tmp_path: Path) -> None:
    for name, fc in broken_layers().items():
        (tmp_path / f"{name}.geojson").write_text(json.dumps(fc))
    (tmp_path / "customers.geojson").write_text("{not json")
    with pytest.raises(ValidationFailed) as exc:
        import_network(tmp_path)
    got = {(d["code"], d["element"]) for d in exc.value.details}
    assert ("bad_geometry", "customers") in got
    assert ("unknown_link", "V1") in got


def test_missing_network_layers_are_reported() -> None:
    with pytest.raises(ValidationFailed) as exc:
        import_layers({"hydrants": {"type": "FeatureCollection", "features": []}})
    got = {(d["code"], d["element"]) for d in exc.value.details}
    assert {("missing_field", "pipes"), ("missing_field", "nodes")} <= got


def test_inp_plus_asset_layers(tmp_path: Path) -> None:
    inp = tmp_path / "tiny.inp"
    inp.write_text(TINY_INP)
    layers = layer_collections(tiny_model())
    d = tmp_path / "assets"
    d.mkdir()
    for name in ("valves", "hydrants", "customers", "dmas", "sensors", "pipes"):
        (d / f"{name}.geojson").write_text(json.dumps(layers[name]))
    m, report = import_network(inp, layers_dir=d, scale=1.0)
    assert report.ok
    assert ("warning", "ignored_layer", "pipes") in {
        (i.severity, i.code, i.element) for i in report.issues
    }
    assert len(m.valves) == 2 and len(m.customers) == 2 and len(m.sensors) == 2


def test_demo_city_layer_folder_round_trip(demo_small: NetworkModel, tmp_path: Path) -> None:
    files = write_layers(demo_small, tmp_path)
    assert {
        "pipes.geojson",
        "junctions.geojson",
        "sources.geojson",
        "valves.geojson",
        "hydrants.geojson",
        "customers.geojson",
        "dmas.geojson",
        "sensors.geojson",
        "valves.csv",
        "customers.csv",
        "network.inp",
    } <= set(files)
    assert (
        (tmp_path / "customers.csv")
        .read_text()
        .splitlines()[0]
        .startswith("account,node,link,class")
    )
    back, report = import_network(tmp_path)
    assert report.ok, report.issues[:5]
    assert back.counts() == demo_small.counts()
    assert back.name == demo_small.name and back.crs == demo_small.crs
    for a, b in zip(demo_small.nodes, back.nodes, strict=True):
        assert a.id == b.id and a.dma == b.dma
        assert math.dist(a.xy, b.xy) < 0.05
    for la, lb in zip(demo_small.links, back.links, strict=True):
        assert (la.id, la.start, la.end, la.kind, la.status) == (
            lb.id,
            lb.start,
            lb.end,
            lb.kind,
            lb.status,
        )
        assert lb.length_m == pytest.approx(la.length_m)
    assert [s.code for s in back.sensors] == [s.code for s in demo_small.sensors]
    # the written .inp (metres of the model CRS) plus the CSVs give the same network
    m3, rep3 = import_network(
        tmp_path / "network.inp",
        crs=demo_small.crs,
        valves=tmp_path / "valves.csv",
        customers=tmp_path / "customers.csv",
    )
    assert rep3.ok
    assert len(m3.valves) == len(demo_small.valves)
    assert len(m3.customers) == len(demo_small.customers)
    assert np.abs(demo_small.node_array("lonlat") - m3.node_array("lonlat")).max() < 1e-6


def test_zipped_layer_folder_and_zipped_inp(demo_small: NetworkModel, tmp_path: Path) -> None:
    import zipfile

    folder = tmp_path / "layers"
    write_layers(demo_small, folder)
    z = tmp_path / "upload.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"city/{f.name}")
        zf.writestr("../evil.txt", "x")
    model, report = import_network(z)
    assert report.ok and model.counts() == demo_small.counts()
    zi = tmp_path / "inp.zip"
    with zipfile.ZipFile(zi, "w") as zf:
        zf.write(folder / "network.inp", "network.inp")
    model2, _ = import_network(zi, crs=demo_small.crs)
    assert len(model2.links) == len(demo_small.links)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValidationFailed):
        import_network(bad)
