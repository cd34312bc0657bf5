"""Demo city districts and sensor sites.

* DMAs: the junctions are split into ``k = clamp(round(junctions / 120), 5, 20)`` districts by
  a graph Voronoi partition (multi-source Dijkstra over pipe lengths from seeds spread by
  farthest-point sampling), so each district is connected. Sources (reservoirs, tanks) belong
  to no DMA. Polygon: the union of the members' Voronoi cells clipped to a 150 m buffer of
  the network. Boundary meters: links whose ends lie in different DMAs or come from outside.
* Sensors (code ``<KIND>-<ZONE>-<NNNNNN>``): PT pressure spread in each DMA (one per ~40
  junctions, at least 2), FT flow on every boundary meter and every link at a source, LT level
  at tanks, PS at pumps, CL chlorine at sources and one per DMA, TB/PH at reservoirs, one MT
  meter register per customer (numbered from 100001).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import dijkstra

from waternet.network import geo
from waternet.network.importers.geojson import polygon_geojson
from waternet.network.model import DMA, BoundaryMeter, NetworkModel, SensorSite, sensor_code
from waternet.network.spatial import link_xy

JUNCTIONS_PER_DMA = 120
MIN_DMAS, MAX_DMAS = 5, 20
DMA_BUFFER_M = 150.0
JUNCTIONS_PER_PT = 40
MT_FIRST = 100_001


def farthest_points(xy: np.ndarray, k: int, first: int) -> list[int]:
    """``k`` indices spread over ``xy`` by farthest-point sampling from ``first``."""
    chosen = [first]
    d = np.hypot(*(xy - xy[first]).T)
    while len(chosen) < min(k, len(xy)):
        i = int(np.argmax(d))
        if d[i] <= 0:
            break
        chosen.append(i)
        d = np.minimum(d, np.hypot(*(xy - xy[i]).T))
    return chosen


def add_dmas(model: NetworkModel, rng: np.random.Generator) -> None:
    junctions = [n for n in model.nodes if n.kind == "junction"]
    if not junctions:
        return
    idx = {n.id: i for i, n in enumerate(junctions)}
    xy = np.array([(n.x, n.y) for n in junctions], dtype=np.float64)
    k = int(np.clip(round(len(junctions) / JUNCTIONS_PER_DMA), MIN_DMAS, MAX_DMAS))
    seeds = farthest_points(xy, k, int(rng.integers(len(junctions))))
    # codes in reading order: north to south, then west to east
    seeds.sort(key=lambda i: (-round(xy[i, 1] / 500.0), xy[i, 0]))
    rows, cols, w = [], [], []
    for lk in model.links:
        a, b = idx.get(lk.start), idx.get(lk.end)
        if a is not None and b is not None and a != b:
            rows.append(a)
            cols.append(b)
            w.append(max(lk.length_m, 0.1))
    g = coo_array((w, (rows, cols)), shape=(len(junctions), len(junctions))).tocsr()
    dist, _, owner = dijkstra(
        g, directed=False, indices=seeds, min_only=True, return_predecessors=True
    )
    lost = ~np.isfinite(dist)
    if lost.any():  # parts reachable only through a source: nearest seed as the crow flies
        sxy = xy[seeds]
        near = np.argmin(
            np.hypot(xy[lost, None, 0] - sxy[None, :, 0], xy[lost, None, 1] - sxy[None, :, 1]),
            axis=1,
        )
        owner[lost] = np.asarray(seeds)[near]
    code_of = {s: f"D{i + 1:02d}" for i, s in enumerate(seeds)}
    for n, o in zip(junctions, owner, strict=True):
        n.dma = code_of[int(o)]
    model.dmas = [DMA(code=c, name=f"District {c[1:]}") for c in code_of.values()]
    _polygons(model, junctions, xy)
    _boundary_meters(model)
    model.reindex()


def _polygons(model: NetworkModel, junctions: list[Any], xy: np.ndarray) -> None:
    lines = [link_xy(model, lk) for lk in model.links]
    geoms = np.array([shapely.linestrings(c) for c in lines if c is not None], dtype=object)
    # union of per-line buffers: much faster than buffering the union of the lines
    area = shapely.simplify(
        shapely.union_all(shapely.buffer(geoms, DMA_BUFFER_M, quad_segs=3)), 10.0
    )
    uniq, first = np.unique(np.round(xy, 3), axis=0, return_index=True)
    cells = shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=area, ordered=True)
    parts = shapely.get_parts(cells)
    by_dma: dict[str, list[Any]] = defaultdict(list)
    for cell, j in zip(parts, first, strict=True):
        by_dma[junctions[int(j)].dma].append(cell)
    proj = geo.projector(model.crs)
    for d in model.dmas:
        poly = shapely.intersection(shapely.union_all(by_dma.get(d.code, [])), area)
        poly = shapely.make_valid(poly)
        if poly.geom_type == "GeometryCollection":
            poly = shapely.union_all(
                [p for p in shapely.get_parts(poly) if p.geom_type in ("Polygon", "MultiPolygon")]
            )
        ll = shapely.transform(poly, lambda c: np.column_stack(proj.to_lonlat(c[:, 0], c[:, 1])))
        d.geometry = polygon_geojson(shapely.make_valid(shapely.set_precision(ll, 1e-7)))


def _boundary_meters(model: NetworkModel) -> None:
    nodes = model.node_by_id
    dmas = model.dma_by_code
    for lk in model.links:
        a, b = nodes[lk.start].dma, nodes[lk.end].dma
        if a == b:
            continue
        if b is not None:
            dmas[b].boundary_meters.append(BoundaryMeter(link=lk.id, inflow=1))
        if a is not None:
            dmas[a].boundary_meters.append(BoundaryMeter(link=lk.id, inflow=-1))


class _Codes:
    def __init__(self) -> None:
        self.next: dict[str, int] = defaultdict(lambda: 1)

    def __call__(self, kind: str, zone: str | None) -> str:
        n = self.next[kind]
        self.next[kind] = n + 1
        return sensor_code(kind, zone, n)


def add_sensors(model: NetworkModel, rng: np.random.Generator) -> None:
    code = _Codes()
    code.next["MT"] = MT_FIRST
    nodes = model.node_by_id
    out: list[SensorSite] = []

    def add(
        kind: str,
        zone: str | None,
        *,
        node: str | None = None,
        link: str | None = None,
        **attrs: object,
    ) -> str:
        s = SensorSite(
            code=code(kind, zone),
            kind=kind,
            node=node,
            link=link,
            dma=zone,
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
        out.append(s)
        return s.code

    # pressure + one chlorine analyser per DMA
    members: dict[str, list[Any]] = defaultdict(list)
    for n in model.nodes:
        if n.kind == "junction" and n.dma is not None:
            members[n.dma].append(n)
    for d in model.dmas:
        mem = members.get(d.code, [])
        if not mem:
            continue
        xy = np.array([(n.x, n.y) for n in mem], dtype=np.float64)
        k = max(2, round(len(mem) / JUNCTIONS_PER_PT))
        picks = farthest_points(xy, k, int(rng.integers(len(mem))))
        for i in sorted(picks):
            add("PT", d.code, node=mem[i].id)
        add("CL", d.code, node=mem[min(picks)].id)
    # flow on boundary meters (zone = the DMA that positive flow enters, else the one it leaves)
    meter_code: dict[str, str] = {}
    for d in model.dmas:
        for m in d.boundary_meters:
            if m.link not in meter_code:
                lk = model.link(m.link)
                zone = nodes[lk.end].dma or nodes[lk.start].dma
                meter_code[m.link] = add("FT", zone, link=m.link, role="dma_boundary")
            m.sensor = meter_code[m.link]
    # sources: flow on every link at a source, level at tanks, quality at reservoirs
    for lk in model.links:
        for end in (lk.start, lk.end):
            if nodes[end].is_source and lk.id not in meter_code:
                zone = nodes[lk.end].dma or nodes[lk.start].dma
                meter_code[lk.id] = add("FT", zone, link=lk.id, role="source_outlet")
    for n in model.nodes:
        if n.kind == "tank":
            add("LT", None, node=n.id)
        if n.kind == "reservoir":
            for kind in ("CL", "TB", "PH"):
                add(kind, None, node=n.id)
    for lk in model.links:
        if lk.kind == "pump":
            add(
                "PS",
                nodes[lk.start].dma if nodes[lk.start].dma == nodes[lk.end].dma else None,
                link=lk.id,
            )
    # one smart meter per customer
    for c in model.customers:
        zone = None
        if c.node is not None:
            zone = nodes[c.node].dma
        elif c.link is not None:
            lk = model.link(c.link)
            zone = nodes[lk.start].dma or nodes[lk.end].dma
        s = SensorSite(
            code=code("MT", zone),
            kind="MT",
            node=c.node,
            link=c.link,
            dma=zone,
            lon=c.lon,
            lat=c.lat,
            attrs={"account": c.account},
        )
        out.append(s)
    model.sensors = out
    model.reindex()
