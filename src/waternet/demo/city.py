"""The demo city: one of WNTR's shipped real networks placed at 117.23 E, 31.82 N (Hefei),
EPANET units in metres, with a generated (seeded, deterministic) asset layer set.

* ``small`` = Net3, ``medium`` = ky10, ``large`` = Net6. ky10 coordinates are US survey feet
  (x 0.3048); Net3 and Net6 are schematic and are scaled so that drawn distances match the pipe
  lengths (median ratio, see :func:`~waternet.network.importers.inp.estimate_coordinate_scale`).
* Isolation valves: WNTR's strategic N-1 layer
  (``wntr.network.generate_valve_layer(wn, 'strategic', 1, seed)``), about 3 % inoperable.
* Hydrants: junctions on pipes of at least 100 mm, at least ``HYDRANT_SPACING_M`` apart.
* Customers: proportional to junction base demand, with critical customers sprinkled in.
* DMAs, boundary meters and sensor sites: :mod:`waternet.demo.zones`.
"""

from __future__ import annotations

import math
import os
import random
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from waternet.demo.zones import add_dmas, add_sensors
from waternet.errors import ValidationFailed
from waternet.network import geo
from waternet.network.importers.inp import model_from_wntr, read_wntr
from waternet.network.importers.inp_writer import library_inp
from waternet.network.importers.writer import write_layers
from waternet.network.model import Customer, Hydrant, IsolationValve, NetworkModel
from waternet.network.validation import validate_model

Size = Literal["small", "medium", "large"]
DEMO_ANCHOR = (117.23, 31.82)
DEFAULT_SEED = 7
NETWORKS: dict[str, str] = {"small": "Net3.inp", "medium": "ky10.inp", "large": "Net6.inp"}
CUSTOMERS: dict[str, int] = {"small": 1_500, "medium": 8_000, "large": 30_000}
INOPERABLE_FRACTION = 0.03
HYDRANT_SPACING_M = 150.0
HYDRANT_MIN_DIAMETER_M = 0.1
ON_PIPE_FRACTION = 0.3  # customers attached to a pipe rather than to the demand node
# customers per critical customer, and the minimum count
CRITICAL_RATE: dict[str, tuple[int, int]] = {
    "hospital": (5_000, 1),
    "dialysis": (1_500, 2),
    "school": (800, 2),
    "fire_station": (6_000, 1),
    "care_home": (3_000, 1),
}
OTHER_CLASSES = (("industrial", 0.015), ("commercial", 0.08))
STREETS = (
    "Changjiang",
    "Huangshan",
    "Jinzhai",
    "Wuhu",
    "Suzhou",
    "Shushan",
    "Tongling",
    "Anqing",
    "Feixi",
    "Meishan",
    "Wangjiang",
    "Qianshan",
    "Hezuohua",
    "Fanhua",
    "Jiuhua",
    "Xiyou",
    "Shouchun",
    "Huaihe",
    "Luyang",
    "Baohe",
    "Tianehu",
    "Chaohu",
    "Dashushan",
    "Zipeng",
    "Qingyang",
    "Bozhou",
    "Fuyang",
    "Mingguang",
    "Lujiang",
    "Hefeng",
)


def demo_rng(seed: int, part: str) -> np.random.Generator:
    """An independent random stream per generated part (so parts do not shift each other)."""
    return np.random.default_rng([seed, zlib.crc32(part.encode())])


def build_demo_city(size: Size = "medium", *, seed: int = DEFAULT_SEED) -> NetworkModel:
    """The demo city model; same size and seed give the same model."""
    if size not in NETWORKS:
        raise ValidationFailed(f"unknown demo city size {size!r}; use small, medium or large")
    wn = read_wntr(library_inp(NETWORKS[size]))
    model, report = model_from_wntr(wn, crs="local", anchor=DEMO_ANCHOR, name=f"demo-{size}")
    report.raise_if_errors("demo city")
    model.meta.update(wntr_library=NETWORKS[size], demo={"size": size, "seed": seed})
    add_strategic_valves(model, wn, seed=seed)
    add_dmas(model, demo_rng(seed, "dmas"))
    add_hydrants(model, demo_rng(seed, "hydrants"))
    add_customers(model, CUSTOMERS[size], demo_rng(seed, "customers"))
    add_sensors(model, demo_rng(seed, "sensors"))
    model.reindex()
    final = validate_model(model)
    final.raise_if_errors("demo city")
    model.meta["warnings"] = [i.to_dict() for i in final.warnings]
    return model


def write_demo_city(
    size: Size = "medium",
    out_dir: str | os.PathLike[str] = "demo-city",
    *,
    seed: int = DEFAULT_SEED,
) -> tuple[NetworkModel, dict[str, Path]]:
    """Build the demo city and write its layer folder (what ``waternet network demo-city``
    does besides loading it into the database)."""
    model = build_demo_city(size, seed=seed)
    return model, write_layers(model, out_dir)


def add_strategic_valves(model: NetworkModel, wn: Any, *, seed: int) -> None:
    """WNTR's strategic N-1 valve layer; about 3 % (at least one) marked inoperable."""
    import wntr

    np_state, py_state = np.random.get_state(), random.getstate()
    try:  # generate_valve_layer seeds the global generators: restore them afterwards
        layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    links = model.link_by_id
    n = len(layer)
    rng = demo_rng(seed, "valves")
    bad = (
        set(rng.choice(n, size=max(1, round(n * INOPERABLE_FRACTION)), replace=False).tolist())
        if n
        else set()
    )
    width = max(4, len(str(n)))
    for i, (link_id, node_id) in enumerate(zip(layer["link"], layer["node"], strict=True)):
        lk = links[str(link_id)]
        d = lk.diameter_m * 1000.0 if lk.kind != "pump" and lk.diameter_m > 0 else None
        model.valves.append(
            IsolationValve(
                id=f"V{i + 1:0{width}d}",
                link=str(link_id),
                node=str(node_id),
                diameter_mm=None if d is None else round(d, 1),
                type="butterfly" if d is not None and d >= 400 else "gate",
                operable=i not in bad,
            )
        )
    model.reindex()


def _adjacency(model: NetworkModel) -> dict[str, list[str]]:
    adj: dict[str, list[str]] = {n.id: [] for n in model.nodes}
    for lk in model.links:
        adj[lk.start].append(lk.id)
        adj[lk.end].append(lk.id)
    return adj


def _offset(
    model: NetworkModel, x: float, y: float, rng: np.random.Generator, lo: float, hi: float
) -> tuple[float, float]:
    ang = rng.uniform(0.0, 2.0 * math.pi)
    r = rng.uniform(lo, hi)
    lon, lat = geo.projector(model.crs).point_lonlat(x + r * math.cos(ang), y + r * math.sin(ang))
    return geo.round_lonlat(lon), geo.round_lonlat(lat)


def add_hydrants(model: NetworkModel, rng: np.random.Generator) -> None:
    """Hydrants at junctions on pipes >= 100 mm, greedily spaced ``HYDRANT_SPACING_M``."""
    adj = _adjacency(model)
    links = model.link_by_id
    cand = [
        n
        for n in model.nodes
        if n.kind == "junction"
        and any(
            links[k].kind == "pipe" and links[k].diameter_m >= HYDRANT_MIN_DIAMETER_M
            for k in adj[n.id]
        )
    ]
    cell = HYDRANT_SPACING_M
    taken: dict[tuple[int, int], list[tuple[float, float]]] = {}
    k = 0
    for i in rng.permutation(len(cand)):
        n = cand[int(i)]
        assert n.x is not None and n.y is not None
        cx, cy = int(n.x // cell), int(n.y // cell)
        near = (
            p for dx in (-1, 0, 1) for dy in (-1, 0, 1) for p in taken.get((cx + dx, cy + dy), [])
        )
        if any(math.hypot(n.x - px, n.y - py) < cell for px, py in near):
            continue
        taken.setdefault((cx, cy), []).append((n.x, n.y))
        k += 1
        lon, lat = _offset(model, n.x, n.y, rng, 3.0, 8.0)
        model.hydrants.append(Hydrant(id="", node=n.id, lon=lon, lat=lat))
    # ids in node order, independent of the random visiting order
    order = {n.id: i for i, n in enumerate(model.nodes)}
    model.hydrants.sort(key=lambda h: order[h.node])
    for i, h in enumerate(model.hydrants):
        h.id = f"H{i + 1:05d}"
    model.reindex()


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer counts proportional to ``weights`` summing to ``total`` (largest remainder)."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if w.sum() <= 0 or total <= 0:
        return np.zeros(len(w), dtype=np.int64)
    q = w / w.sum() * total
    base = np.floor(q).astype(np.int64)
    rest = total - int(base.sum())
    order = np.lexsort((np.arange(len(w)), -(q - base)))
    base[order[:rest]] += 1
    out: np.ndarray = base
    return out


def add_customers(model: NetworkModel, total: int, rng: np.random.Generator) -> None:
    """``total`` customers over the junctions in proportion to base demand."""
    junctions = [n for n in model.nodes if n.kind == "junction"]
    counts = apportion(np.array([n.base_demand_m3s for n in junctions]), total)
    n_total = int(counts.sum())
    classes = np.array(["residential"] * n_total, dtype=object)
    slots = rng.permutation(n_total)
    pos = 0
    for cls, (per, minimum) in CRITICAL_RATE.items():
        k = max(minimum, n_total // per)
        classes[slots[pos : pos + k]] = cls
        pos += k
    for cls, frac in OTHER_CLASSES:
        k = round(n_total * frac)
        classes[slots[pos : pos + k]] = cls
        pos += k
    adj = _adjacency(model)
    links = model.link_by_id
    acct = 0
    for n, c in zip(junctions, counts, strict=True):
        pipes = [k for k in adj[n.id] if links[k].kind == "pipe"]
        for _ in range(int(c)):
            assert n.x is not None and n.y is not None
            on_pipe = bool(pipes) and rng.random() < ON_PIPE_FRACTION
            link = pipes[int(rng.integers(len(pipes)))] if on_pipe else None
            street_key = link or (pipes[0] if pipes else n.id)
            street = STREETS[zlib.crc32(street_key.encode()) % len(STREETS)]
            lon, lat = _offset(model, n.x, n.y, rng, 8.0, 40.0)
            model.customers.append(
                Customer(
                    account=f"A{acct + 1:07d}",
                    customer_class=str(classes[acct]),
                    node=None if on_pipe else n.id,
                    link=link,
                    address=f"{int(rng.integers(1, 400))} {street} Road, Hefei",
                    lon=lon,
                    lat=lat,
                )
            )
            acct += 1
    model.reindex()
