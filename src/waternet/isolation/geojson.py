"""Plans on the map: WGS84 lon/lat positions of a plan's burst, valves, links and customers, and
the plan as a GeoJSON FeatureCollection (pure: no I/O)."""

from __future__ import annotations

from typing import Any

import shapely

from waternet.isolation.plan import IsolationPlan
from waternet.network import geo
from waternet.network.model import NetworkModel
from waternet.network.spatial import link_xy, valve_xy

LonLat = tuple[float, float]


def node_lonlat(model: NetworkModel, node: str) -> LonLat | None:
    n = model.node_by_id.get(node)
    if n is None or n.lon is None or n.lat is None:
        return None
    return (n.lon, n.lat)


def link_lonlat(model: NetworkModel, link: str) -> list[LonLat] | None:
    lk = model.link_by_id.get(link)
    if lk is None:
        return None
    a, b = node_lonlat(model, lk.start), node_lonlat(model, lk.end)
    if a is None or b is None:
        return None
    return [a, *((float(x), float(y)) for x, y in lk.vertices), b]


def along(line: list[LonLat], fraction: float = 0.5) -> LonLat:
    g = shapely.linestrings(line)
    p = shapely.line_interpolate_point(g, fraction, normalized=True)
    return (float(shapely.get_x(p)), float(shapely.get_y(p)))


def burst_lonlat(model: NetworkModel, plan: IsolationPlan) -> LonLat | None:
    if plan.burst["kind"] == "node":
        return node_lonlat(model, plan.burst["id"])
    line = link_lonlat(model, plan.burst["id"])
    return None if line is None else along(line)


def valve_lonlat(model: NetworkModel, valve: str) -> LonLat | None:
    """Where the map draws a valve: its own position, else a little way along its link."""
    v = model.valve_by_id.get(valve)
    if v is None:
        return None
    if v.lon is not None and v.lat is not None:
        return (v.lon, v.lat)
    lk = model.link_by_id.get(v.link)
    xy = None if lk is None else link_xy(model, lk)
    if lk is None or xy is None:
        return node_lonlat(model, v.node)
    x, y = valve_xy(xy, at_start=lk.start == v.node)
    return geo.projector(model.crs).point_lonlat(x, y)


def feature(geom: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geom, "properties": props}


def point(p: LonLat) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(p[0], 7), round(p[1], 7)]}


def plan_geojson(model: NetworkModel, plan: IsolationPlan, out: dict[str, Any]) -> dict[str, Any]:
    """The plan for the map, WGS84: burst point, valves to close (with order), passed valves,
    isolated, cut-off and already unsupplied links (full polylines), affected customers,
    hydrants out of service. Every feature has a ``role`` property."""
    feats: list[dict[str, Any]] = []
    p: LonLat | None
    for s in out["steps"]:
        p = valve_lonlat(model, s["valve"])
        if p is not None:
            props = {"role": "valve_to_close", **{k: v for k, v in s.items() if k != "xy"}}
            feats.append(feature(point(p), props))
    for pv in out["passed_valves"]:
        p = valve_lonlat(model, pv["valve"])
        if p is not None:
            feats.append(feature(point(p), {"role": "passed_valve", **pv}))
    layers = (
        ("isolated", "isolated_links"),
        ("cut_off", "cut_off_links"),
        ("unsupplied_before", "unsupplied_before_links"),
    )
    for role, key in layers:
        for link in out[key]:
            line = link_lonlat(model, link)
            lk = model.link_by_id[link]
            if line is not None:
                geom = {
                    "type": "LineString",
                    "coordinates": [[round(x, 7), round(y, 7)] for x, y in line],
                }
                props = {
                    "role": role,
                    "link": link,
                    "kind": lk.kind,
                    "diameter_mm": round(lk.diameter_m * 1000.0, 1),
                }
                feats.append(feature(geom, props))
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
            p = node_lonlat(model, c["node"])
        elif c["link"] is not None:
            # customers along a pipe are spread evenly along it (service connections)
            line = link_lonlat(model, c["link"])
            k, n = rank[c["account"]], on_link[c["link"]]
            p = None if line is None else along(line, (k + 1) / (n + 1))
        if p is not None:
            feats.append(feature(point(p), {"role": "affected_customer", **c}))
    for h in (out.get("consequences") or {}).get("hydrants_out_of_service", []):
        hyd = model.hydrant_by_id.get(h)
        if hyd is None:
            continue
        p = (
            (hyd.lon, hyd.lat)
            if hyd.lon is not None and hyd.lat is not None
            else node_lonlat(model, hyd.node)
        )
        if p is not None:
            feats.append(feature(point(p), {"role": "hydrant_out_of_service", "id": h}))
    return {"type": "FeatureCollection", "features": feats}
