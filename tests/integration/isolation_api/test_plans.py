"""POST /api/v1/isolation/plans on the active version (small demo city, Net3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api
from waternet.gis.service import spatial_index
from waternet.isolation import service
from waternet.isolation.service import isolation_engine

PLANS = "/api/v1/isolation/plans"


def _post(api: Api, body: dict[str, Any], role: str = "dispatcher") -> Any:
    return api.client.post(PLANS, json=body, headers=api.headers(role))  # type: ignore[attr-defined]


def _pipes_with_customers(loaded: Any, n: int) -> list[str]:
    """A spread of pipes whose isolation takes customers out of supply."""
    out = []
    for lk in loaded.model.pipes[::7]:
        plan = isolation_engine(loaded).plan(pipe=lk.id)
        if plan.valves_to_close and plan.consequences and plan.consequences.customers:
            out.append(lk.id)
        if len(out) == n:
            break
    assert len(out) == n
    return out


def test_plan_equals_the_engine_plan(iso_api: Api, loaded: Any) -> None:
    for pipe in _pipes_with_customers(loaded, 5):
        r = _post(iso_api, {"pipe": pipe})
        assert r.status_code == 200, r.text
        body = r.json()
        want = isolation_engine(loaded).plan(pipe=pipe)
        plan = body["plan"]
        assert body["version"] == loaded.version_id
        assert plan["burst"] == {"kind": "pipe", "id": pipe}
        assert plan["valves_to_close"] == want.valves_to_close  # same operation order
        assert plan["isolated_links"] == want.isolated_links
        assert plan["cut_off_links"] == want.cut_off_links
        accounts = [c["account"] for c in plan["affected_customers"]]
        assert accounts == [c.account for c in want.consequences.customers]
        assert body["summary"]["customers"] == len(accounts) > 0
        # critical customers come first
        flags = [c["critical"] for c in plan["affected_customers"]]
        assert flags == sorted(flags, reverse=True)
        assert all("address" in c for c in plan["affected_customers"])


def test_the_response_model_keeps_the_plan_as_computed(iso_api: Api, loaded: Any) -> None:
    """PlanOut neither drops nor adds a key: the body is burst_plan()'s dict, what-if included."""
    pipe = _pipes_with_customers(loaded, 1)[0]
    for body, kw in (
        ({"pipe": pipe, "what_if": True}, {"pipe": pipe, "what_if": True}),
        ({"node": loaded.model.pipes[3].start}, {"node": loaded.model.pipes[3].start}),
    ):
        r = _post(iso_api, body)
        assert r.status_code == 200, r.text
        assert r.json() == json.loads(json.dumps(service.burst_plan(loaded, **kw)))
    r = iso_api.client.get(
        "/api/v1/isolation/criticality",
        params={"limit": 5},  # type: ignore[attr-defined]
        headers=iso_api.headers("analyst"),
    )
    assert r.json() == json.loads(json.dumps(service.criticality(loaded, limit=5)))


def test_geojson_is_lonlat_and_complete(iso_api: Api, loaded: Any) -> None:
    pipe = _pipes_with_customers(loaded, 1)[0]
    body = _post(iso_api, {"pipe": pipe}).json()
    feats = body["geojson"]["features"]
    by_role: dict[str, list[dict[str, Any]]] = {}
    for f in feats:
        by_role.setdefault(f["properties"]["role"], []).append(f)
    valves = by_role["valve_to_close"]
    assert [f["properties"]["valve"] for f in valves] == body["plan"]["valves_to_close"]
    assert [f["properties"]["order"] for f in valves] == list(range(1, len(valves) + 1))
    assert {f["properties"]["link"] for f in by_role["isolated"]} == set(
        body["plan"]["isolated_links"]
    )
    assert len(by_role["affected_customer"]) == body["summary"]["customers"]
    min_lon, min_lat, max_lon, max_lat = loaded.model.summary()["bounds_lonlat"]
    for f in feats:
        g = f["geometry"]
        pts = [g["coordinates"]] if g["type"] == "Point" else g["coordinates"]
        for lon, lat in pts:
            assert min_lon - 0.01 <= lon <= max_lon + 0.01
            assert min_lat - 0.01 <= lat <= max_lat + 0.01
    # the burst marker is on the pipe, within the network's extent
    assert min_lon <= body["burst"]["lon"] <= max_lon


def test_point_snaps_to_the_nearest_pipe(iso_api: Api, loaded: Any) -> None:
    pipe = _pipes_with_customers(loaded, 1)[0]
    feats = _post(iso_api, {"pipe": pipe}).json()["geojson"]["features"]
    line = next(
        f
        for f in feats
        if f["properties"]["role"] == "isolated" and f["properties"]["link"] == pipe
    )["geometry"]["coordinates"]
    lon = (line[0][0] + line[1][0]) / 2
    lat = (line[0][1] + line[1][1]) / 2
    r = _post(iso_api, {"point": {"lon": lon, "lat": lat}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["burst"]["kind"] == "pipe"
    hit = spatial_index(loaded).nearest_pipe(lon, lat)
    assert body["burst"]["id"] == hit.id
    assert body["burst"]["snapped_m"] == pytest.approx(hit.distance_m, abs=0.01)
    want = isolation_engine(loaded).plan(pipe=hit.id)
    assert body["plan"]["valves_to_close"] == want.valves_to_close


def test_node_burst_and_stuck_valve_and_what_if(iso_api: Api, loaded: Any) -> None:
    pipe = _pipes_with_customers(loaded, 1)[0]
    base = _post(iso_api, {"pipe": pipe, "what_if": True}).json()["plan"]
    assert set(base["what_if"]) == set(base["valves_to_close"])
    stuck = base["valves_to_close"][0]
    r = _post(iso_api, {"pipe": pipe, "stuck": [stuck]}, role="crew")
    assert r.status_code == 200, r.text
    plan = r.json()["plan"]
    assert {"valve": stuck, "reason": "stuck"} in plan["passed_valves"]
    assert stuck not in plan["valves_to_close"]
    want = isolation_engine(loaded).plan(pipe=pipe, stuck=[stuck])
    assert plan["valves_to_close"] == want.valves_to_close
    assert base["what_if"][stuck]["valves_to_close"] == want.valves_to_close
    node = loaded.model.link(pipe).start
    r = _post(iso_api, {"node": node}, role="analyst")
    assert r.status_code == 200, r.text
    want = isolation_engine(loaded).plan(node=node)
    assert r.json()["plan"]["valves_to_close"] == want.valves_to_close


def test_unknown_elements_are_404(iso_api: Api) -> None:
    for body in (
        {"pipe": "no-such-pipe"},
        {"node": "no-such-node"},
        {"point": {"lon": 10.0, "lat": 50.0}},
    ):
        r = _post(iso_api, body)
        assert r.status_code == 404, (body, r.text)
        assert r.json()["error"] == "not_found"
        assert r.json()["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "exactly one of pipe, node or point"),
        ({"pipe": "10", "node": "10"}, "exactly one of pipe, node or point"),
        ({"point": {"lon": 117.2, "lat": 95}}, "less than or equal to 90"),
        ({"pipe": "10", "colour": "red"}, "Extra inputs are not permitted"),
        ({"pipe": "10", "stuck": "V0001"}, "valid list"),
    ],
)
def test_bad_bodies_are_422_with_a_message(iso_api: Api, body: dict[str, Any], needle: str) -> None:
    r = _post(iso_api, body)
    assert r.status_code == 422, r.text
    got = r.json()
    assert got["error"] == "validation_failed" and set(got) == {"error", "message", "details"}
    assert any(needle in d["problem"] for d in got["details"]), got


def test_unknown_stuck_valve_and_non_pipe_link_are_422(iso_api: Api, loaded: Any) -> None:
    pipe = _pipes_with_customers(loaded, 1)[0]
    r = _post(iso_api, {"pipe": pipe, "stuck": ["V9999", "nope"]})
    assert r.status_code == 422
    assert [d["valve"] for d in r.json()["details"]] == ["V9999", "nope"]
    pump = next(lk.id for lk in loaded.model.links if lk.kind == "pump")
    r = _post(iso_api, {"pipe": pump})
    assert r.status_code == 422
    assert "not a pipe" in r.json()["message"]


def test_roles(iso_api: Api, loaded: Any) -> None:
    pipe = loaded.model.pipes[0].id
    r = iso_api.client.post(PLANS, json={"pipe": pipe})  # type: ignore[attr-defined]
    assert r.status_code == 401
    assert _post(iso_api, {"pipe": pipe}, role="service").status_code == 403
    for role in ("dispatcher", "analyst", "crew", "admin"):
        assert _post(iso_api, {"pipe": pipe}, role=role).status_code == 200, role
