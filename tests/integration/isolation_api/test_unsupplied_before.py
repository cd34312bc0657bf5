"""POST /api/v1/isolation/plans on a version where a normally closed valve leaves a district
dry: the district is reported as ``unsupplied_before`` (plan, summary, GeoJSON, warning),
never as cut off by the plan (issue 11, item 8)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from tests.conftest import Api
from waternet.isolation.engine import NetworkState
from waternet.isolation.service import isolation_engine
from waternet.network import service

PLANS = "/api/v1/isolation/plans"


def _dry_version(demo_url: str, loaded: Any) -> tuple[int, set[str], set[str]]:
    """Store a copy of the demo city with one valve normally closed (the first one whose
    closure takes customers out of supply) as an inactive version: (version, dry links,
    dry nodes)."""
    engine = isolation_engine(loaded)
    t, a = engine.topology, engine.assets
    for vid in engine.valves.valve_ids:
        st = engine.state(NetworkState(closed=frozenset({vid})))
        dry = np.setdiff1d(st.unsupplied, engine.state().unsupplied)
        if int(a.cust_per_elem[dry].sum()) > 0:
            break
    else:
        raise AssertionError("no valve of the demo city dries customers")
    model = copy.deepcopy(loaded.model)
    for v in model.valves:
        if v.id == vid:
            v.normal = "closed"
    version, _ = service.import_model(demo_url, model=model, source="test:dry", activate=False)
    n = t.n_nodes
    links = {t.link_ids[int(e) - n] for e in dry[dry >= n]}
    nodes = {t.node_ids[int(e)] for e in dry[dry < n]}
    return version, links, nodes


def test_dry_district_is_unsupplied_before_not_cut_off(
    iso_api: Api, loaded: Any, demo_url: str
) -> None:
    version, dry_links, dry_nodes = _dry_version(demo_url, loaded)
    pipe = next(
        lk.id
        for lk in loaded.model.pipes[::5]
        if lk.id not in dry_links and isolation_engine(loaded).plan(pipe=lk.id).valves_to_close
    )
    r = iso_api.client.post(  # type: ignore[attr-defined]
        PLANS, json={"pipe": pipe, "version": version}, headers=iso_api.headers("dispatcher")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    plan = body["plan"]
    assert body["version"] == version
    assert dry_links <= set(plan["unsupplied_before_links"])
    assert dry_nodes <= set(plan["unsupplied_before_nodes"])
    assert not dry_links & set(plan["cut_off_links"])
    assert not dry_nodes & set(plan["cut_off_nodes"])
    assert not {c["status"] for c in plan["affected_customers"]} - {"isolated", "cut_off"}
    assert plan["consequences"]["unsupplied_before_customers"] > 0
    assert body["summary"]["unsupplied_before_links"] == len(plan["unsupplied_before_links"])
    assert (
        body["summary"]["unsupplied_before_customers"]
        == plan["consequences"]["unsupplied_before_customers"]
    )
    assert any("no supply before" in w for w in plan["warnings"])
    drawn = {
        f["properties"]["link"]
        for f in body["geojson"]["features"]
        if f["properties"]["role"] == "unsupplied_before"
    }
    assert drawn == set(plan["unsupplied_before_links"])
    # the active version (no valve closed) reports nothing dry for the same burst
    normal = iso_api.client.post(  # type: ignore[attr-defined]
        PLANS, json={"pipe": pipe}, headers=iso_api.headers("dispatcher")
    ).json()
    assert not dry_links & set(normal["plan"]["unsupplied_before_links"])
    assert (
        normal["summary"]["unsupplied_before_customers"]
        < body["summary"]["unsupplied_before_customers"]
    )
