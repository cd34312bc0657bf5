"""Isolation engine benchmark (issue 4).

    python bench/isolation.py [--quick]

Prints, measured in the same run:
* WNTR's ``valve_segments`` time and ours on Net6 (strategic N-1 layer) and the ratio
  (target >= 100x);
* segment build time for a 1,000,000-pipe synthetic grid network (target < 10 s);
* plan latency p50/p99 on that network (target p99 < 20 ms).
``--quick`` uses ky10 and a 100,000-pipe grid.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from waternet.isolation.assets import Assets, Customer
from waternet.isolation.engine import IsolationEngine
from waternet.isolation.segments import SegmentIndex
from waternet.network.topology import Topology
from waternet.network.valves import ValveLayer


def grid_network(n_pipes: int, *, seed: int = 1, n_sources: int = 16) -> Topology:
    """Deterministic grid-like city: an R x C grid of junctions (about ``n_pipes`` pipes, 3% of
    them removed to break the regularity) fed by ``n_sources`` reservoirs on its edge."""
    rng = np.random.default_rng(seed)
    side = int(math.sqrt(n_pipes / (2.0 * 0.96))) + 1
    r = c = side
    idx = np.arange(r * c).reshape(r, c)
    h = np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], axis=1)
    v = np.stack([idx[:-1, :].ravel(), idx[1:, :].ravel()], axis=1)
    edges = np.concatenate([h, v])
    keep = rng.random(len(edges)) > 0.03
    edges = edges[keep][: n_pipes - n_sources]
    n_j = r * c
    src_nodes = np.arange(n_j, n_j + n_sources)
    border = np.concatenate([idx[0, :], idx[-1, :], idx[:, 0], idx[:, -1]])
    attach = border[np.linspace(0, len(border) - 1, n_sources).astype(int)]
    edges = np.concatenate([edges, np.stack([src_nodes, attach], axis=1)])
    m = len(edges)
    node_ids = [f"J{i}" for i in range(n_j)] + [f"R{i}" for i in range(n_sources)]
    yy, xx = np.divmod(np.arange(n_j), c)
    xy = np.concatenate([np.stack([xx * 100.0, yy * 100.0], axis=1), np.zeros((n_sources, 2))])
    xy[n_j:] = xy[attach] + 50.0
    return Topology(
        node_ids=node_ids,
        link_ids=[f"P{j}" for j in range(m)],
        node_index={s: i for i, s in enumerate(node_ids)},
        link_index={f"P{j}": j for j in range(m)},
        link_start=edges[:, 0].astype(np.int32),
        link_end=edges[:, 1].astype(np.int32),
        link_kind=np.zeros(m, dtype=np.int8),
        link_oneway=np.zeros(m, dtype=bool),
        link_closed=np.zeros(m, dtype=bool),
        link_length_m=np.full(m, 100.0),
        link_diameter_m=rng.choice([0.1, 0.15, 0.2, 0.3], size=m),
        node_is_source=np.arange(len(node_ids)) >= n_j,
        node_kind=np.where(np.arange(len(node_ids)) >= n_j, 1, 0).astype(np.int8),
        node_xy=xy,
    )


def strategic_layer(topo: Topology, *, seed: int = 2, inoperable: float = 0.03) -> ValveLayer:
    """N-1 layer like WNTR's 'strategic': at each node, a valve on every link but one."""
    rng = np.random.default_rng(seed)
    m = topo.n_links
    inc_link = np.repeat(np.arange(m), 2)
    inc_node = np.empty(2 * m, dtype=np.int64)
    inc_node[0::2] = topo.link_start
    inc_node[1::2] = topo.link_end
    key = rng.random(2 * m)
    order = np.lexsort((key, inc_node))
    first = np.ones(2 * m, dtype=bool)
    first[1:] = inc_node[order][1:] != inc_node[order][:-1]
    chosen = np.sort(order[~first])
    k = len(chosen)
    ids = [f"V{i}" for i in range(k)]
    return ValveLayer(
        valve_ids=ids,
        valve_index={s: i for i, s in enumerate(ids)},
        link=inc_link[chosen].astype(np.int32),
        node=inc_node[chosen].astype(np.int32),
        operable=rng.random(k) > inoperable,
        normal_open=np.ones(k, dtype=bool),
        diameter_mm=topo.link_diameter_m[inc_link[chosen]] * 1000.0,
        type=["gate"] * k,
    )


def bench_wntr(name: str) -> None:
    import warnings

    import wntr

    wn = wntr.network.WaterNetworkModel(str(files("wntr") / "library" / "networks" / f"{name}.inp"))
    layer_df = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=5)
    g = wn.to_graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        wntr.metrics.valve_segments(g, layer_df.copy())
        t_wntr = time.perf_counter() - t0
    topo = Topology.from_wntr(wn)
    layer = ValveLayer.from_dataframe(layer_df, topo)
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        SegmentIndex.build(topo, layer)
        runs.append(time.perf_counter() - t0)
    ours = float(np.median(runs))
    print(f"{name}: {wn.num_links} links, {len(layer)} valves")
    print(f"  WNTR valve_segments      {t_wntr * 1000:10.1f} ms")
    print(f"  waternet segments        {ours * 1000:10.2f} ms (median of 7)")
    print(f"  ratio                    {t_wntr / ours:10.0f} x   (target >= 100x)")


def bench_scale(n_pipes: int, samples: int) -> None:
    t0 = time.perf_counter()
    topo = grid_network(n_pipes)
    layer = strategic_layer(topo)
    t_gen = time.perf_counter() - t0
    print(
        f"synthetic grid: {topo.n_links} pipes, {topo.n_nodes} nodes, {len(layer)} valves "
        f"(generated in {t_gen:.1f} s)"
    )
    t0 = time.perf_counter()
    seg = SegmentIndex.build(topo, layer)
    t_seg = time.perf_counter() - t0
    print(f"  segment build            {t_seg:10.2f} s  ({seg.n_segments} segments; target < 10 s)")
    junctions = np.flatnonzero(~topo.node_is_source)
    rng = np.random.default_rng(3)
    classes = np.where(rng.random(len(junctions)) < 0.01, "hospital", "residential")
    customers = [
        Customer(f"A{i}", topo.node_ids[n], None, str(k))
        for i, (n, k) in enumerate(zip(junctions.tolist(), classes.tolist(), strict=True))
    ]
    t0 = time.perf_counter()
    assets = Assets.build(topo, customers=customers)
    engine = IsolationEngine(topo, layer, assets=assets, segments=seg)
    engine.state()
    t_eng = time.perf_counter() - t0
    print(f"  engine + supply tree     {t_eng:10.2f} s  ({len(customers)} customers)")
    pipes = rng.choice(topo.n_links, size=samples, replace=False)
    lat = []
    n_valves = []
    for j in pipes.tolist():
        t0 = time.perf_counter()
        plan = engine.plan(pipe=topo.link_ids[j])
        plan.to_json()
        lat.append(time.perf_counter() - t0)
        n_valves.append(len(plan.valves_to_close))
    arr = np.asarray(lat) * 1000
    print(f"  plan latency ({samples} random pipes, incl. order, customers per step, JSON)")
    print(
        f"    p50 {np.percentile(arr, 50):7.2f} ms   p99 {np.percentile(arr, 99):7.2f} ms   "
        f"max {arr.max():7.2f} ms   (target p99 < 20 ms)"
    )
    print(f"    valves per plan: mean {np.mean(n_valves):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="ky10 and a 100,000-pipe grid")
    args = ap.parse_args()
    bench_wntr("ky10" if args.quick else "Net6")
    bench_scale(100_000 if args.quick else 1_000_000, 300 if args.quick else 2000)


if __name__ == "__main__":
    main()
