"""HTTP API of the isolation engine: closure plans for a burst and the criticality ranking.

Plans are computed on the active network version (``waternet.network.service.load_active``),
or on ``version`` when given. Computing a plan changes nothing (plans are not stored yet), so
crews may ask for one too: a crew that finds a valve stuck gets the new plan at once. The
criticality ranking is for planners and dispatchers. Admin is always admitted.

Live state: valves closed by other active plans are not taken into account yet (there is no
incidents table); every plan starts from the normal valve positions of the version.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from waternet.api.deps import require_roles
from waternet.errors import NotFound, ValidationFailed
from waternet.network.criticality import best_new_valve, rank_segments
from waternet.network.spatial import link_xy, valve_xy

if TYPE_CHECKING:
    from waternet.network.isolation_plan import IsolationPlan
    from waternet.network.model import NetworkModel
    from waternet.network.service import LoadedNetwork

router = APIRouter(prefix="/api/v1/isolation", tags=["isolation"])

PLANNERS = require_roles("dispatcher", "analyst", "crew")
RANKERS = require_roles("dispatcher", "analyst")
DEFAULT_SNAP_M = 500.0
CACHED_RANKINGS = 4  # criticality rankings kept (one per network version)

LonLat = tuple[float, float]


class MapPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)


class PlanRequest(BaseModel):
    """Exactly one of ``pipe``, ``node`` or ``point`` (snapped to the nearest pipe)."""

    model_config = ConfigDict(extra="forbid")
    pipe: str | None = Field(default=None, min_length=1, description="burst pipe id")
    node: str | None = Field(default=None, min_length=1, description="burst node id")
    point: MapPoint | None = Field(default=None, description="map point, snapped to a pipe")
    snap_m: float = Field(
        default=DEFAULT_SNAP_M, gt=0, le=10_000, description="max snapping distance for point"
    )
    stuck: list[str] = Field(default_factory=list, description="valves reported stuck")
    what_if: bool = Field(default=False, description="plans if each valve turns out stuck")
    version: int | None = Field(default=None, description="network version (default: active)")

    @model_validator(mode="after")
    def _one_target(self) -> PlanRequest:
        given = [k for k in ("pipe", "node", "point") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of pipe, node or point"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


# ---------------------------------------------------------------------------- network access
def _load(request: Request, version: int | None) -> LoadedNetwork:
    from waternet.network import service

    url = request.app.state.settings.database_url
    if version is None:
        return service.load_active(url)
    return service.load_version(url, version)


_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()
_criticality: dict[int, dict[str, Any]] = {}


def _lock(version_id: int) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(version_id, threading.Lock())


# ---------------------------------------------------------------------------- endpoints
@router.post("/plans")
def create_plan(
    body: PlanRequest, request: Request, _p: Annotated[Any, Depends(PLANNERS)]
) -> dict[str, Any]:
    """Closure plan for a burst: valves to close in operation order, isolated and cut-off
    pipes, affected customers (critical first), restore order, optional what-if plans; plus
    GeoJSON (WGS84 lon/lat) for the map."""
    net = _load(request, body.version)
    model = net.model
    burst_at: LonLat | None = None
    snapped: float | None = None
    pipe, node = body.pipe, body.node
    if body.point is not None:
        hit = net.spatial.nearest_pipe(body.point.lon, body.point.lat, max_distance_m=body.snap_m)
        if hit is None:
            raise NotFound(f"no pipe within {body.snap_m:g} m of the point")
        pipe, snapped = hit.id, round(hit.distance_m, 2)
        burst_at = (body.point.lon, body.point.lat)
    if pipe is not None and pipe not in model.link_by_id:
        raise NotFound(f"pipe {pipe!r} not in network version {net.version_id}")
    if node is not None and node not in model.node_by_id:
        raise NotFound(f"node {node!r} not in network version {net.version_id}")
    unknown = [v for v in body.stuck if v not in model.valve_by_id]
    if unknown:
        raise ValidationFailed(
            "unknown stuck valve(s)",
            details=[{"field": "stuck", "valve": v, "problem": "unknown valve"} for v in unknown],
        )
    # the engine is read-only for plans from the normal state: no lock, plans run in parallel
    plan = net.engine.plan(pipe=pipe, node=node, stuck=body.stuck, what_if=body.what_if)
    out = plan.to_json()
    _add_addresses(model, out)
    burst = dict(out["burst"])
    if snapped is not None:
        burst["snapped_m"] = snapped
    at = burst_at or _burst_lonlat(model, plan)
    burst["lon"], burst["lat"] = at if at is not None else (None, None)
    return {
        "version": net.version_id,
        "network": net.name,
        "burst": burst,
        "summary": _summary(out),
        "cut_off_areas": cut_off_areas(model, out),
        "plan": out,
        "geojson": plan_geojson(model, plan, out),
    }


@router.get("/criticality")
def criticality(
    request: Request,
    _p: Annotated[Any, Depends(RANKERS)],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
    version: Annotated[int | None, Query(description="default: the active version")] = None,
) -> dict[str, Any]:
    """Segments ranked by critical customers, customers, nodes and links out of supply if the
    segment must be isolated (unintended isolation included), and the single new valve that
    would most shrink the worst segment. Computed once per network version."""
    net = _load(request, version)
    with _lock(net.version_id):  # one computation per version; plans are not blocked
        cached = _criticality.get(net.version_id)
        if cached is None:
            cached = _rank(net)
            _criticality[net.version_id] = cached
            while len(_criticality) > CACHED_RANKINGS:
                _criticality.pop(next(iter(_criticality)))
    return {
        "version": net.version_id,
        "network": net.name,
        "segments": cached["segments"],
        "ranking": cached["ranking"][:limit],
        "best_new_valve": cached["best_new_valve"],
    }


def _rank(net: LoadedNetwork) -> dict[str, Any]:
    engine = net.engine
    t = engine.topology
    ranking = rank_segments(engine)
    rows: list[dict[str, Any]] = []
    for pos, imp in enumerate(ranking, start=1):
        el = engine.segments.segment_elements([imp.segment])
        links = (el[el >= t.n_nodes] - t.n_nodes).tolist()
        pipes = [t.link_ids[j] for j in links if int(t.link_kind[j]) == 0]
        nodes = el[el < t.n_nodes]
        node = t.node_ids[int(nodes[0])] if len(nodes) else (
            t.node_ids[int(t.link_start[links[0]])] if links else None)
        # a pipe (or, for a segment without pipes, a node) to plan this segment's isolation
        rows.append({"rank": pos, **imp.to_json(), "pipes": pipes[:50], "n_pipes": len(pipes),
                     "node": node})
    best = best_new_valve(engine, segment=ranking[0].segment) if ranking else None
    return {"segments": len(ranking), "ranking": rows, "best_new_valve": best}


# ---------------------------------------------------------------------------- outputs
def _summary(out: dict[str, Any]) -> dict[str, Any]:
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


def _add_addresses(model: NetworkModel, out: dict[str, Any]) -> None:
    by_acc = model.customer_by_account
    for c in out.get("affected_customers") or []:
        cust = by_acc.get(c["account"])
        c["address"] = cust.address if cust is not None else ""


def _node_ll(model: NetworkModel, node: str) -> LonLat | None:
    n = model.node_by_id.get(node)
    if n is None or n.lon is None or n.lat is None:
        return None
    return (n.lon, n.lat)


def _link_ll(model: NetworkModel, link: str) -> list[LonLat] | None:
    lk = model.link_by_id.get(link)
    if lk is None:
        return None
    a, b = _node_ll(model, lk.start), _node_ll(model, lk.end)
    if a is None or b is None:
        return None
    return [a, *((float(x), float(y)) for x, y in lk.vertices), b]


def _along(line: list[LonLat], fraction: float = 0.5) -> LonLat:
    import shapely

    g = shapely.linestrings(line)
    p = shapely.line_interpolate_point(g, fraction, normalized=True)
    return (float(shapely.get_x(p)), float(shapely.get_y(p)))


def _burst_lonlat(model: NetworkModel, plan: IsolationPlan) -> LonLat | None:
    if plan.burst["kind"] == "node":
        return _node_ll(model, plan.burst["id"])
    line = _link_ll(model, plan.burst["id"])
    return None if line is None else _along(line)


def _valve_ll(model: NetworkModel, valve: str) -> LonLat | None:
    """Where the map draws a valve: its own position, else a little way along its link."""
    from waternet.network import geo

    v = model.valve_by_id.get(valve)
    if v is None:
        return None
    if v.lon is not None and v.lat is not None:
        return (v.lon, v.lat)
    lk = model.link_by_id.get(v.link)
    xy = None if lk is None else link_xy(model, lk)
    if lk is None or xy is None:
        return _node_ll(model, v.node)
    x, y = valve_xy(xy, at_start=lk.start == v.node)
    return geo.projector(model.crs).point_lonlat(x, y)


def _feature(geom: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geom, "properties": props}


def _pt(p: LonLat) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(p[0], 7), round(p[1], 7)]}


def plan_geojson(model: NetworkModel, plan: IsolationPlan, out: dict[str, Any]) -> dict[str, Any]:
    """The plan for the map, WGS84: burst point, valves to close (with order), passed valves,
    isolated, cut-off and already unsupplied links (full polylines), affected customers,
    hydrants out of service. Every feature has a ``role`` property."""
    feats: list[dict[str, Any]] = []
    p: LonLat | None
    for s in out["steps"]:
        p = _valve_ll(model, s["valve"])
        if p is not None:
            props = {"role": "valve_to_close", **{k: v for k, v in s.items() if k != "xy"}}
            feats.append(_feature(_pt(p), props))
    for pv in out["passed_valves"]:
        p = _valve_ll(model, pv["valve"])
        if p is not None:
            feats.append(_feature(_pt(p), {"role": "passed_valve", **pv}))
    layers = (
        ("isolated", "isolated_links"),
        ("cut_off", "cut_off_links"),
        ("unsupplied_before", "unsupplied_before_links"),
    )
    for role, key in layers:
        for link in out[key]:
            line = _link_ll(model, link)
            lk = model.link_by_id[link]
            if line is not None:
                geom = {"type": "LineString", "coordinates": [[round(x, 7), round(y, 7)]
                                                              for x, y in line]}
                props = {"role": role, "link": link, "kind": lk.kind,
                         "diameter_mm": round(lk.diameter_m * 1000.0, 1)}
                feats.append(_feature(geom, props))
    by_acc = model.customer_by_account
    custs = out.get("affected_customers") or []
    on_link: dict[str, int] = {}  # customers per pipe
    rank: dict[str, int] = {}  # position of a customer among those of its pipe
    for c in custs:
        if c["node"] is None and c["link"] is not None:
            rank[c["account"]] = on_link.get(c["link"], 0)
            on_link[c["link"]] = rank[c["account"]] + 1
    for c in custs:
        cust = by_acc.get(c["account"])
        p = None
        if cust is not None and cust.lon is not None and cust.lat is not None:
            p = (cust.lon, cust.lat)
        elif c["node"] is not None:
            p = _node_ll(model, c["node"])
        elif c["link"] is not None:
            # customers along a pipe are spread evenly along it (service connections)
            line = _link_ll(model, c["link"])
            k, n = rank[c["account"]], on_link[c["link"]]
            p = None if line is None else _along(line, (k + 1) / (n + 1))
        if p is not None:
            feats.append(_feature(_pt(p), {"role": "affected_customer", **c}))
    for h in (out.get("consequences") or {}).get("hydrants_out_of_service", []):
        hyd = model.hydrant_by_id.get(h)
        if hyd is None:
            continue
        p = (hyd.lon, hyd.lat) if hyd.lon is not None and hyd.lat is not None else _node_ll(
            model, hyd.node)
        if p is not None:
            feats.append(_feature(_pt(p), {"role": "hydrant_out_of_service", "id": h}))
    return {"type": "FeatureCollection", "features": feats}


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
        g = groups.setdefault(find(key), {"nodes": [], "links": [], "length_m": 0.0,
                                          "customers": 0, "critical_customers": 0})
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
