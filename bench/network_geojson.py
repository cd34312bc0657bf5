"""Map GeoJSON benchmark on the 1,000,000-pipe synthetic network.

    .venv/bin/python bench/network_geojson.py --url postgresql://postgres@127.0.0.1:5432/postgres \
        [--pipes 1000000] [--runs 200] [--keep]
    .venv/bin/python bench/network_geojson.py --no-db      # in memory only (no import/load)

With a database it creates ``wn_bench_<random>``, migrates it, imports the synthetic network
as a version (``service.import_model``: validation, column encoding, insert), then loads it
back cold (``service.load_active``) and builds the map layers and spatial index (what the first
map request after a new version pays). Then, for bboxes at several zooms (random centres over
the network), it times what ``GET /api/v1/network/layers/{layer}`` does: the bbox query, the
zoom rules (filter / cluster / cap) and ``json.dumps``, p50/p99 over ``--runs`` requests.

Baselines measured in the same run: the *naive* answer for the same bbox (a linear scan of
every pipe's end points, then every matching pipe serialised with its properties), and the
whole pipe layer serialised once (what a map would fetch without bbox/zoom rules).

Target: p99 < 200 ms for a city block (~400 x 330 m) at street zoom 17, and p99 < 500 ms for
every case (any bbox, any zoom, any layer: the cap bounds the work). Prints whether met.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg

from waternet.db import migrate
from waternet.demo.synthetic import synthetic_network
from waternet.gis.layers import MapLayers
from waternet.gis.service import map_layers, spatial_index
from waternet.network import service

# name, zoom, bbox size in degrees (lon, lat); None = the whole network
CASES: list[tuple[str, int, tuple[float, float] | None]] = [
    ("street block", 17, (0.004, 0.003)),
    ("neighbourhood", 15, (0.016, 0.012)),
    ("district", 13, (0.064, 0.048)),
    ("whole city", 10, None),
]
LAYERS = ("pipes", "customers", "valves")
TARGET_BLOCK_P99_MS = 200.0
TARGET_ANY_P99_MS = 500.0


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def naive_pipes(maps: MapLayers, bbox: tuple[float, float, float, float]) -> bytes:
    """Linear scan + serialise every pipe of the bbox (no zoom rules, no index)."""
    lay = maps.layers["pipes"]
    c = lay.coords
    a, b = c[lay.offsets[:-1]], c[lay.offsets[1:] - 1]

    def inside(p):
        return (
            (p[:, 0] >= bbox[0])
            & (p[:, 0] <= bbox[2])
            & (p[:, 1] >= bbox[1])
            & (p[:, 1] <= bbox[3])
        )

    idx = np.flatnonzero(inside(a) | inside(b))
    feats = [
        {
            "type": "Feature",
            "id": lay.ids[i],
            "properties": {"id": lay.ids[i], **{k: v[i] for k, v in lay.props.items()}},
            "geometry": {
                "type": "LineString",
                "coordinates": c[lay.offsets[i] : lay.offsets[i + 1]].tolist(),
            },
        }
        for i in idx.tolist()
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def bench_url(admin: str) -> tuple[str, str]:
    name = f"wn_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    p = urlsplit(admin)
    return name, urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="PostgreSQL admin URL (a bench database is created)")
    ap.add_argument("--no-db", action="store_true", help="skip import/load, in memory only")
    ap.add_argument("--pipes", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the bench database")
    args = ap.parse_args()
    if not args.no_db and not args.url:
        ap.error("give --url or --no-db")

    t, syn = timed(lambda: synthetic_network(args.pipes, seed=args.seed))
    print(
        f"generate {args.pipes:,} pipes: {t:.1f} s "
        f"({syn.n_nodes:,} nodes, {len(syn.valve_link):,} valves, "
        f"{len(syn.customer_link):,} customers)"
    )
    t, model = timed(syn.to_model)
    print(f"to_model: {t:.1f} s")
    del syn
    db_name = None
    if args.no_db:
        net = service.LoadedNetwork(version_id=0, name=model.name, model=model)
    else:
        db_name, url = bench_url(args.url)
        try:
            migrate.upgrade(url)
            t, (vid, _) = timed(
                lambda: service.import_model(url, model=model, source="bench:synthetic")
            )
            st = service.get_version(url, vid)["stats"]["storage"]
            print(
                f"import (validate + encode + insert): {t:.1f} s, stored "
                f"{st['stored_bytes'] / 1e6:.1f} MB in {st['chunks']} chunks "
                f"(raw {st['raw_bytes'] / 1e6:.0f} MB)"
            )
            del model
            service.clear_cache()
            t, net = timed(lambda: service.load_active(url))
            print(f"cold load of the version (read + decode): {t:.1f} s")
            t2, _ = timed(lambda: service.load_active(url))
            print(f"cached load_active (active-version check): {t2 * 1000:.2f} ms")
        finally:
            if db_name and not args.keep:
                with psycopg.connect(args.url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    t, maps = timed(lambda: map_layers(net))
    print(f"build map layers: {t:.1f} s")
    t, _ = timed(lambda: spatial_index(net))
    print(f"build spatial index (pick): {t:.1f} s")
    t, whole = timed(lambda: naive_pipes(maps, (-180.0, -90.0, 180.0, 90.0)))
    print(f"baseline: whole pipe layer as GeoJSON: {t:.1f} s, {len(whole) / 1e6:.0f} MB")
    del whole

    bounds = net.model.summary()["bounds_lonlat"]
    rng = np.random.default_rng(1)
    ok = True
    print(
        f"\n{'case':<14} {'zoom':>4} {'layer':<10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'features':>9} {'in bbox':>9} {'KB':>7} {'naive p50 ms':>13}"
    )
    for case, zoom, size in CASES:
        for layer in LAYERS:
            lat_ms, naive_ms, feats, totals, kb = [], [], [], [], []
            runs = args.runs if size is not None else max(5, args.runs // 20)
            for k in range(runs):
                if size is None:
                    bbox = (bounds[0], bounds[1], bounds[2], bounds[3])
                else:
                    cx = rng.uniform(bounds[0] + size[0], bounds[2] - size[0])
                    cy = rng.uniform(bounds[1] + size[1], bounds[3] - size[1])
                    bbox = (cx - size[0] / 2, cy - size[1] / 2, cx + size[0] / 2, cy + size[1] / 2)

                def answer(
                    bbox: tuple[float, float, float, float] = bbox,
                    layer: str = layer,
                    zoom: int = zoom,
                ) -> bytes:
                    doc = maps.geojson(layer, bbox, zoom)
                    return json.dumps(doc, separators=(",", ":")).encode()

                t, body = timed(answer)
                lat_ms.append(t * 1000)
                kb.append(len(body) / 1024)
                doc = json.loads(body)
                feats.append(len(doc["features"]))
                totals.append(doc["total"])
                if layer == "pipes" and k < (10 if size is not None else 2):
                    naive_ms.append(timed(partial(naive_pipes, maps, bbox))[0] * 1000)
            p50, p99 = pct(lat_ms, 50), pct(lat_ms, 99)
            target = TARGET_BLOCK_P99_MS if case == "street block" else TARGET_ANY_P99_MS
            met = p99 < target
            ok &= met
            naive = f"{statistics.median(naive_ms):13.1f}" if naive_ms else f"{'':>13}"
            print(
                f"{case:<14} {zoom:>4} {layer:<10} {p50:8.1f} {p99:8.1f} "
                f"{int(np.median(feats)):>9,} {int(np.median(totals)):>9,} "
                f"{np.median(kb):7.0f} {naive}  {'ok' if met else 'MISSED'} (<{target:.0f})"
            )
    print(
        f"\ntarget p99 < {TARGET_BLOCK_P99_MS:.0f} ms (street block, zoom 17) and "
        f"< {TARGET_ANY_P99_MS:.0f} ms (every case): {'MET' if ok else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
