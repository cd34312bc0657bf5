"""Use cases of the isolation engine on a loaded network version: a closure plan for a burst
(with its map form and cut-off areas) and the criticality ranking.

The engine and its inputs are derived from the version once and cached with it
(:meth:`waternet.network.cache.LoadedNetwork.derived`), so a newly activated version gets a new
engine and a dropped version takes its engine with it.

Live state: valves closed by other active plans are not taken into account yet (there is no
incidents table); every plan starts from the normal valve positions of the version.
"""

from __future__ import annotations

from typing import Any

from waternet.errors import NotFound, ValidationFailed
from waternet.gis.service import spatial_index
from waternet.isolation.assets import Assets
from waternet.isolation.criticality import best_new_valve, rank_segments
from waternet.isolation.engine import IsolationEngine
from waternet.isolation.geojson import LonLat, burst_lonlat, plan_geojson
from waternet.isolation.inputs import isolation_assets, model_valve_layer
from waternet.network.cache import LoadedNetwork
from waternet.network.model import NetworkModel
from waternet.network.valves import ValveLayer


def valve_layer(net: LoadedNetwork) -> ValveLayer:
    return net.derived("isolation.valves", lambda: model_valve_layer(net.model, net.topology))


def assets(net: LoadedNetwork) -> Assets:
    return net.derived("isolation.assets", lambda: isolation_assets(net.model, net.topology))


def isolation_engine(net: LoadedNetwork) -> IsolationEngine:
    """The version's engine (read-only for plans from the normal state: plans run in parallel)."""
    return net.derived(
        "isolation.engine",
        lambda: IsolationEngine(net.topology, valve_layer(net), assets=assets(net)),
    )


def burst_plan(
    net: LoadedNetwork,
    *,
    pipe: str | None = None,
    node: str | None = None,
    point: LonLat | None = None,
    snap_m: float = 500.0,
    stuck: list[str] | None = None,
    what_if: bool = False,
) -> dict[str, Any]:
    """Closure plan for a burst at a pipe, a node or a map point (snapped to the nearest pipe
    within ``snap_m``): the plan, its summary, cut-off areas and GeoJSON (WGS84)."""
    model = net.model
    stuck = list(stuck or [])
    snapped: float | None = None
    if point is not None:
        hit = spatial_index(net).nearest_pipe(point[0], point[1], max_distance_m=snap_m)
        if hit is None:
            raise NotFound(f"no pipe within {snap_m:g} m of the point")
        pipe, snapped = hit.id, round(hit.distance_m, 2)
    if pipe is not None and pipe not in model.link_by_id:
        raise NotFound(f"pipe {pipe!r} not in network version {net.version_id}")
    if node is not None and node not in model.node_by_id:
        raise NotFound(f"node {node!r} not in network version {net.version_id}")
    unknown = [v for v in stuck if v not in model.valve_by_id]
    if unknown:
        raise ValidationFailed(
            "unknown stuck valve(s)",
            details=[{"field": "stuck", "valve": v, "problem": "unknown valve"} for v in unknown],
        )
    plan = isolation_engine(net).plan(pipe=pipe, node=node, stuck=stuck, what_if=what_if)
    out = plan.to_json()
    add_addresses(model, out)
    burst = dict(out["burst"])
    if snapped is not None:
        burst["snapped_m"] = snapped
    at = point or burst_lonlat(model, plan)
    burst["lon"], burst["lat"] = at if at is not None else (None, None)
    return {
        "version": net.version_id,
        "network": net.name,
        "burst": burst,
        "summary": plan_summary(out),
        "cut_off_areas": cut_off_areas(model, out),
        "plan": out,
        "geojson": plan_geojson(model, plan, out),
    }


def criticality(net: LoadedNetwork, *, limit: int) -> dict[str, Any]:
    """Segments ranked by what their isolation takes out of supply, and the single new valve
    that would most shrink the worst segment. Computed once per version, cached with it."""
    ranked = net.derived("isolation.criticality", lambda: _rank(net))
    return {
        "version": net.version_id,
        "network": net.name,
        "segments": ranked["segments"],
        "ranking": ranked["ranking"][:limit],
        "best_new_valve": ranked["best_new_valve"],
    }


def _rank(net: LoadedNetwork) -> dict[str, Any]:
    engine = isolation_engine(net)
    t = engine.topology
    ranking = rank_segments(engine)
    rows: list[dict[str, Any]] = []
    for pos, imp in enumerate(ranking, start=1):
        el = engine.segments.segment_elements([imp.segment])
        links = (el[el >= t.n_nodes] - t.n_nodes).tolist()
        pipes = [t.link_ids[j] for j in links if int(t.link_kind[j]) == 0]
        nodes = el[el < t.n_nodes]
        node = (
            t.node_ids[int(nodes[0])]
            if len(nodes)
            else (t.node_ids[int(t.link_start[links[0]])] if links else None)
        )
        # a pipe (or, for a segment without pipes, a node) to plan this segment's isolation
        rows.append(
            {"rank": pos, **imp.to_json(), "pipes": pipes[:50], "n_pipes": len(pipes), "node": node}
        )
    best = best_new_valve(engine, segment=ranking[0].segment) if ranking else None
    return {"segments": len(ranking), "ranking": rows, "best_new_valve": best}


def plan_summary(out: dict[str, Any]) -> dict[str, Any]:
    cons = out.get("consequences") or {}
    return {
        "valves_to_close": len(out["valves_to_close"]),
        "passed_valves": len(out["passed_valves"]),
        "isolated_links": len(out["isolated_links"]),
        "cut_off_links": len(out["cut_off_links"]),
        "customers": len(out.get("affected_customers") or []),
        "critical_customers": cons.get("critical_count", 0),
        "hydrants_out_of_service": len(cons.get("hydrants_out_of_service") or []),
        # already without supply before the plan (not counted in the figures above)
        "unsupplied_before_links": len(out["unsupplied_before_links"]),
        "unsupplied_before_customers": cons.get("unsupplied_before_customers", 0),
    }


def add_addresses(model: NetworkModel, out: dict[str, Any]) -> None:
    by_acc = model.customer_by_account
    for c in out.get("affected_customers") or []:
        cust = by_acc.get(c["account"])
        c["address"] = cust.address if cust is not None else ""


def cut_off_areas(model: NetworkModel, out: dict[str, Any]) -> list[dict[str, Any]]:
    """Connected pieces of the cut-off part (outside the closed valves, without supply), each
    with its nodes, links, pipe length and customers, largest first."""
    nodes: set[str] = set(out["cut_off_nodes"])
    links: list[str] = out["cut_off_links"]
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for n in nodes:
        find("n:" + n)
    for lid in links:
        lk = model.link_by_id[lid]
        find("l:" + lid)
        for end in (lk.start, lk.end):
            if end in nodes:
                parent[find("l:" + lid)] = find("n:" + end)
    groups: dict[str, dict[str, Any]] = {}
    for key in list(parent):
        g = groups.setdefault(
            find(key),
            {"nodes": [], "links": [], "length_m": 0.0, "customers": 0, "critical_customers": 0},
        )
        if key.startswith("n:"):
            g["nodes"].append(key[2:])
        else:
            g["links"].append(key[2:])
            g["length_m"] += model.link_by_id[key[2:]].length_m
    for c in out.get("affected_customers") or []:
        if c["status"] != "cut_off":
            continue
        key = "n:" + c["node"] if c["node"] is not None else "l:" + str(c["link"])
        if key in parent:
            g = groups[find(key)]
            g["customers"] += 1
            g["critical_customers"] += int(bool(c["critical"]))
    areas = sorted(groups.values(), key=lambda g: (-g["customers"], -len(g["links"])))
    for i, g in enumerate(areas, start=1):
        g["area"] = i
        g["length_m"] = round(g["length_m"], 1)
        g["nodes"].sort()
        g["links"].sort()
    return areas
