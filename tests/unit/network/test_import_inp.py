from __future__ import annotations

import math

import numpy as np
import pytest
import wntr

from waternet.errors import ValidationFailed
from waternet.network import geo
from waternet.network.importers import estimate_coordinate_scale, import_inp, import_network
from waternet.network.topology import Topology

from .conftest import wntr_network

NETWORKS = ["Net1", "Net3", "Net6", "ky4", "ky10"]


@pytest.mark.parametrize("name", NETWORKS)
def test_wntr_networks_import_without_errors(name: str) -> None:
    path = wntr_network(name)
    wn = wntr.network.WaterNetworkModel(str(path))
    model, report = import_inp(path)
    assert report.ok, report.errors
    assert len(model.nodes) == wn.num_nodes
    assert len(model.links) == wn.num_links
    assert {n.id for n in model.nodes} == set(wn.node_name_list)
    assert {lk.id for lk in model.links} == set(wn.link_name_list)
    c = model.counts()
    assert (c["junctions"], c["reservoirs"], c["tanks"]) == (
        wn.num_junctions,
        wn.num_reservoirs,
        wn.num_tanks,
    )
    assert (c["pipes"], c["pumps"], c["control_valves"]) == (
        wn.num_pipes,
        wn.num_pumps,
        wn.num_valves,
    )
    # placed around the default anchor, in a plausible city extent
    ll = model.node_array("lonlat")
    lo, hi = ll.min(axis=0), ll.max(axis=0)
    assert abs((lo[0] + hi[0]) / 2 - 117.23) < 0.01
    assert abs((lo[1] + hi[1]) / 2 - 31.82) < 0.01
    assert (hi - lo < 0.5).all()
    assert model.crs == "EPSG:32650"
    # the compact form agrees with the one built from WNTR directly
    topo = model.to_topology()
    ref = Topology.from_wntr(wn)
    assert topo.node_ids == ref.node_ids and topo.link_ids == ref.link_ids
    assert np.array_equal(topo.link_start, ref.link_start)
    assert np.array_equal(topo.link_oneway, ref.link_oneway)
    assert np.array_equal(topo.link_closed, ref.link_closed)
    assert np.allclose(topo.link_length_m, ref.link_length_m)


def test_feet_networks_are_recognised() -> None:
    wn = wntr.network.WaterNetworkModel(str(wntr_network("ky10")))
    assert estimate_coordinate_scale(wn) == 0.3048
    model, _ = import_inp(wntr_network("ky10"))
    # drawn pipe lengths now match the modelled lengths (bends included via vertices)
    ratios = []
    for lk in model.pipes[:200]:
        a, b = model.node(lk.start), model.node(lk.end)
        pts = [a.xy, *lk.vertices_xy, b.xy]
        ratios.append(geo.polyline_length(pts) / lk.length_m)
    assert 0.9 < float(np.median(ratios)) < 1.1


INP = """[TITLE]
tiny
[JUNCTIONS]
J1 10 1
J2 10 1
J3 10 1
[RESERVOIRS]
R1 50
[PIPES]
P1 R1 J1 1000 300 100 0 Open
P2 J1 J2 500 200 100 0 Open
P3 J2 J3 500 200 100 0 Open
[COORDINATES]
R1 {r}
J1 {j1}
J2 {j2}
{j3line}
[OPTIONS]
Units LPS
[END]
"""


def _inp(
    j3: str | None = "2500 0", scale: float = 1.0, origin: tuple[float, float] = (0, 0)
) -> str:
    def pt(x: float, y: float) -> str:
        return f"{origin[0] + x * scale} {origin[1] + y * scale}"

    return INP.format(
        r=pt(0, 0), j1=pt(1000, 0), j2=pt(1500, 0), j3line="" if j3 is None else f"J3 {pt(2000, 0)}"
    )


def test_inp_text_in_an_epsg_crs_is_reprojected() -> None:
    ox, oy = geo.projector("EPSG:32650").point_xy(117.23, 31.82)
    model, report = import_inp(_inp(origin=(ox, oy)), crs=32650, name="tiny")
    assert report.ok
    assert model.crs == "EPSG:32650"
    r1 = model.node("R1")
    assert r1.lon == pytest.approx(117.23, abs=1e-6) and r1.lat == pytest.approx(31.82, abs=1e-6)
    assert model.node("J1").xy[0] - r1.xy[0] == pytest.approx(1000.0, abs=1e-3)


def test_inp_in_a_feet_crs_gets_metres_in_utm() -> None:
    # NAD83 / Kentucky South (ftUS)
    src = geo.parse_crs(2247)
    assert not geo.is_metric_projected(src)
    x0, y0 = geo.transform(geo.WGS84, src, [-85.5], [37.2])
    model, report = import_inp(_inp(scale=1 / 0.3048006, origin=(x0[0], y0[0])), crs=2247)
    assert report.ok
    assert model.crs == f"EPSG:{geo.utm_epsg(-85.5, 37.2)}"
    a, b = model.node("R1"), model.node("J1")
    assert math.dist(a.xy, b.xy) == pytest.approx(1000.0, rel=2e-3)


def test_local_coordinates_are_placed_at_the_anchor() -> None:
    model, _ = import_inp(_inp(), crs="local", anchor=(10.0, 50.0), scale=1.0)
    ll = model.node_array("lonlat")
    centre = (ll.min(axis=0) + ll.max(axis=0)) / 2
    assert centre[0] == pytest.approx(10.0, abs=1e-4)
    assert centre[1] == pytest.approx(50.0, abs=1e-4)
    assert model.crs == "EPSG:32632"


def test_node_without_coordinates_is_an_error_listed_by_id() -> None:
    with pytest.raises(ValidationFailed) as exc:
        import_inp(_inp(j3=None))
    details = exc.value.details
    assert [(d["code"], d["element"]) for d in details if d["severity"] == "error"] == [
        ("missing_coordinates", "J3")
    ]
    _, report = import_inp(_inp(j3=None), strict=False)
    assert not report.ok


def test_unreadable_inp_is_refused(tmp_path) -> None:
    p = tmp_path / "bad.inp"
    p.write_text("[PIPES]\nP1 A B x y z\n")
    with pytest.raises(ValidationFailed):
        import_inp(p)
    with pytest.raises(ValidationFailed):
        import_inp(tmp_path / "missing.inp")


def test_import_network_with_a_broken_valve_csv_lists_every_problem(tmp_path) -> None:
    inp = tmp_path / "tiny.inp"
    inp.write_text(_inp())
    csv = tmp_path / "valves.csv"
    csv.write_text(
        "valve,link,node,operable\nV1,P1,J1,true\nV2,P9,J1,true\nV3,P2,R1,no\n"
        "V1,P3,J3,yes\nV4,P3,J3,maybe\n"
    )
    with pytest.raises(ValidationFailed) as exc:
        import_network(inp, valves=csv)
    got = {(d["code"], d["element"]) for d in exc.value.details}
    assert {
        ("unknown_link", "V2"),
        ("valve_not_at_link_end", "V3"),
        ("duplicate_id", "V1"),
        ("bad_value", "V4"),
    } <= got
    good = tmp_path / "good.csv"
    good.write_text("valve,link,node\nV1,P1,J1\nV2,P2,J2\n")
    model, report = import_network(inp, valves=good)
    assert report.ok and [v.id for v in model.valves] == ["V1", "V2"]
    assert model.valves[0].diameter_mm == pytest.approx(300.0)
