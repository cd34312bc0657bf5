"""GET /api/v1/isolation/criticality: the ranking of the active version, computed once."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

URL = "/api/v1/isolation/criticality"


def test_ranking_matches_the_engine_and_is_cached(iso_api: Api, loaded: Any) -> None:
    from waternet.isolation.criticality import rank_segments
    from waternet.isolation.service import isolation_engine

    r = iso_api.client.get(URL, params={"limit": 10}, headers=iso_api.headers("analyst"))  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    body = r.json()
    ranking = body["ranking"]
    assert len(ranking) == 10
    engine = isolation_engine(loaded)
    assert body["segments"] == engine.segments.n_segments
    want = rank_segments(engine, limit=10)
    assert [x["segment"] for x in ranking] == [w.segment for w in want]
    assert [x["rank"] for x in ranking] == list(range(1, 11))
    keys = [
        (x["critical_customers"], x["customers"], x["nodes_out"], x["links_out"]) for x in ranking
    ]
    assert keys == sorted(keys, reverse=True)
    # each row names a pipe of the segment, so a click on it plans that segment
    for row in ranking:
        assert row["pipes"] or row["node"]
        if row["pipes"]:
            link = loaded.model.link(row["pipes"][0])
            assert link.kind == "pipe"
            seg = engine.segments.elem_segment[
                engine.topology.n_nodes + engine.topology.link_index[link.id]
            ]
            assert int(seg) == row["segment"]
    best = body["best_new_valve"]
    assert best is not None and best["segment"] == ranking[0]["segment"]
    assert best["after_worst_piece"]["customers"] <= best["before"]["customers"]
    again = iso_api.client.get(URL, params={"limit": 3}, headers=iso_api.headers("dispatcher"))  # type: ignore[attr-defined]
    assert again.json()["ranking"] == ranking[:3]


def test_roles_and_limits(iso_api: Api) -> None:
    c = iso_api.client
    assert c.get(URL).status_code == 401  # type: ignore[attr-defined]
    assert c.get(URL, headers=iso_api.headers("crew")).status_code == 403  # type: ignore[attr-defined]
    r = c.get(URL, params={"limit": 0}, headers=iso_api.headers("analyst"))  # type: ignore[attr-defined]
    assert r.status_code == 422
