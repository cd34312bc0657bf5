"""Synthetic networks of N pipes (up to millions) for benchmarks, built with NumPy/SciPy.

Streets on a jittered ~100 m grid: a random spanning tree of the grid keeps everything
connected, and random other street segments are added back until there are exactly N links
(so some grid loops are missing). A few reservoirs, each feeding the grid through one main.
Isolation valves follow WNTR's strategic N-1 rule (every link end at a node gets a valve except
one random link per node), about 3 % inoperable. Customers sit on pipes (Poisson, mean 2 per
pipe) with a few critical ones.

Everything is kept as arrays (:class:`SyntheticNetwork`); :meth:`~SyntheticNetwork.to_topology`
and :meth:`~SyntheticNetwork.valve_layer` give the isolation engine's forms directly, and
:meth:`~SyntheticNetwork.to_model` a full :class:`NetworkModel` (fine for small N).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_array
from scipy.sparse.csgraph import minimum_spanning_tree

from waternet.errors import ValidationFailed
from waternet.network import geo
from waternet.network.model import (
    CUSTOMER_CLASSES,
    Customer,
    IsolationValve,
    Link,
    NetworkModel,
    Node,
)
from waternet.network.topology import JUNCTION, PIPE, RESERVOIR, Topology
from waternet.network.valves import ValveLayer

if TYPE_CHECKING:
    from waternet.network.spatial import SpatialIndex

ANCHOR = (117.23, 31.82)
BLOCK_M = 100.0
JITTER_M = 15.0
MAIN_EVERY = 10  # every 10th street is a main
INOPERABLE_FRACTION = 0.03
CUSTOMERS_PER_PIPE = 2.0
# residential, commercial, industrial, hospital, dialysis, school, fire_station, care_home
CLASS_P = np.array([0.905, 0.07, 0.015, 0.0003, 0.0022, 0.0045, 0.0003, 0.0027])
CLASS_P = CLASS_P / CLASS_P.sum()

I32 = NDArray[np.int32]
F64 = NDArray[np.float64]


@dataclass(eq=False)
class SyntheticNetwork:
    crs: str
    node_kind: NDArray[np.int8]  # topology codes (0 junction, 1 reservoir)
    node_xy: F64  # (n, 2) metres in crs
    link_start: I32
    link_end: I32
    length_m: F64
    diameter_m: F64
    valve_link: I32
    valve_node: I32
    valve_operable: NDArray[np.bool_]
    customer_link: I32
    customer_class: NDArray[np.int8]  # index into CUSTOMER_CLASSES

    @property
    def n_nodes(self) -> int:
        return len(self.node_kind)

    @property
    def n_links(self) -> int:
        return len(self.link_start)

    @cached_property
    def node_ids(self) -> list[str]:
        return [
            ("R" if k == RESERVOIR else "J") + str(i) for i, k in enumerate(self.node_kind.tolist())
        ]

    @cached_property
    def link_ids(self) -> list[str]:
        return [f"P{j}" for j in range(self.n_links)]

    @cached_property
    def valve_ids(self) -> list[str]:
        return [f"V{k}" for k in range(len(self.valve_link))]

    def lonlat(self) -> tuple[F64, F64]:
        return geo.projector(self.crs).to_lonlat(self.node_xy[:, 0], self.node_xy[:, 1])

    def to_topology(self) -> Topology:
        m = self.n_links
        ids = self.node_ids
        return Topology.build(
            node_ids=ids,
            node_kind=self.node_kind,
            link_ids=self.link_ids,
            link_start_ids=[ids[i] for i in self.link_start.tolist()],
            link_end_ids=[ids[i] for i in self.link_end.tolist()],
            link_kind=np.full(m, PIPE, dtype=np.int8),
            link_oneway=np.zeros(m, dtype=bool),
            link_closed=np.zeros(m, dtype=bool),
            length_m=self.length_m,
            diameter_m=self.diameter_m,
            xy=self.node_xy,
        )

    def valve_layer(self) -> ValveLayer:
        """The valves as a :class:`ValveLayer` over :meth:`to_topology` (same indices)."""
        ids = self.valve_ids
        k = len(ids)
        return ValveLayer(
            valve_ids=ids,
            valve_index={v: i for i, v in enumerate(ids)},
            link=self.valve_link.astype(np.int32),
            node=self.valve_node.astype(np.int32),
            operable=self.valve_operable.copy(),
            normal_open=np.ones(k, dtype=bool),
            diameter_mm=self.diameter_m[self.valve_link] * 1000.0,
            type=["gate"] * k,
        )

    def valves_csv(self) -> str:
        buf = io.StringIO()
        buf.write("valve,link,node,diameter_mm,type,normal,operable\n")
        nid, lid = self.node_ids, self.link_ids
        for k, (lk, nd, op) in enumerate(
            zip(
                self.valve_link.tolist(),
                self.valve_node.tolist(),
                self.valve_operable.tolist(),
                strict=True,
            )
        ):
            d = self.diameter_m[lk] * 1000.0
            buf.write(f"V{k},{lid[lk]},{nid[nd]},{d:.0f},gate,open,{'true' if op else 'false'}\n")
        return buf.getvalue()

    def customers_csv(self) -> str:
        buf = io.StringIO()
        buf.write("account,node,link,class\n")
        lid = self.link_ids
        for k, (lk, c) in enumerate(
            zip(self.customer_link.tolist(), self.customer_class.tolist(), strict=True)
        ):
            buf.write(f"C{k},,{lid[lk]},{CUSTOMER_CLASSES[c]}\n")
        return buf.getvalue()

    def spatial_index(self) -> SpatialIndex:
        from waternet.network.spatial import SpatialIndex

        s, e = self.valve_link, self.valve_node
        # valves drawn 2 m from their node along the pipe
        a = self.node_xy[e]
        other = np.where(self.link_start[s] == e, self.link_end[s], self.link_start[s])
        v = self.node_xy[other] - a
        d = np.hypot(v[:, 0], v[:, 1])
        step = np.minimum(2.0, d / 3.0) / np.maximum(d, 1e-9)
        vxy = a + v * step[:, None]
        return SpatialIndex.from_arrays(
            crs=self.crs,
            link_ids=self.link_ids,
            node_xy=self.node_xy,
            link_start=self.link_start,
            link_end=self.link_end,
            points={"valves": (self.valve_ids, vxy)},
        )

    def to_model(self, *, name: str | None = None) -> NetworkModel:
        """A full model (slow for millions of pipes: one object per element)."""
        lon, lat = self.lonlat()
        nid, lid = self.node_ids, self.link_ids
        nodes = [
            Node(
                id=nid[i],
                kind="reservoir" if k == RESERVOIR else "junction",
                lon=geo.round_lonlat(lon[i]),
                lat=geo.round_lonlat(lat[i]),
                x=geo.round_m(self.node_xy[i, 0]),
                y=geo.round_m(self.node_xy[i, 1]),
                elevation_m=10.0,
                head_m=60.0 if k == RESERVOIR else None,
            )
            for i, k in enumerate(self.node_kind.tolist())
        ]
        links = [
            Link(
                id=lid[j],
                start=nid[s],
                end=nid[e],
                length_m=float(self.length_m[j]),
                diameter_m=float(self.diameter_m[j]),
                roughness=120.0,
            )
            for j, (s, e) in enumerate(
                zip(self.link_start.tolist(), self.link_end.tolist(), strict=True)
            )
        ]
        valves = [
            IsolationValve(
                id=f"V{k}",
                link=lid[lk],
                node=nid[nd],
                diameter_mm=round(float(self.diameter_m[lk]) * 1000.0, 1),
                operable=bool(op),
            )
            for k, (lk, nd, op) in enumerate(
                zip(
                    self.valve_link.tolist(),
                    self.valve_node.tolist(),
                    self.valve_operable.tolist(),
                    strict=True,
                )
            )
        ]
        customers = [
            Customer(account=f"C{k}", customer_class=CUSTOMER_CLASSES[c], link=lid[lk])
            for k, (lk, c) in enumerate(
                zip(self.customer_link.tolist(), self.customer_class.tolist(), strict=True)
            )
        ]
        return NetworkModel(
            name=name or f"synthetic-{self.n_links}",
            crs=self.crs,
            nodes=nodes,
            links=links,
            valves=valves,
            customers=customers,
            meta={"source": "synthetic"},
        )


def grid_shape(n_grid_links: int) -> tuple[int, int]:
    """Rows, cols of a grid with rows*cols - 1 <= n_grid_links <= its street count."""
    n = max(2, math.ceil(n_grid_links / 1.6))
    rows = max(1, round(math.sqrt(n)))
    cols = max(2, math.ceil(n / rows))
    while rows * cols - 1 > n_grid_links and cols > 2:
        cols -= 1
    while rows * (cols - 1) + cols * (rows - 1) < n_grid_links:
        cols += 1
    return rows, cols


def synthetic_network(
    n_pipes: int,
    *,
    seed: int = 0,
    n_reservoirs: int | None = None,
    customers_per_pipe: float = CUSTOMERS_PER_PIPE,
) -> SyntheticNetwork:
    """A connected synthetic network with exactly ``n_pipes`` links (all pipes)."""
    if n_pipes < 2:
        raise ValidationFailed("a synthetic network needs at least 2 pipes")
    rng = np.random.default_rng(seed)
    k_res = n_reservoirs or (1 if n_pipes < 1_000 else min(8, 2 + n_pipes // 200_000))
    k_res = max(1, min(k_res, n_pipes // 2))
    rows, cols = grid_shape(n_pipes - k_res)
    n_grid = rows * cols
    # grid streets: horizontal (r, c)-(r, c+1) then vertical (r, c)-(r+1, c)
    ids = np.arange(n_grid, dtype=np.int64).reshape(rows, cols)
    hs, he = ids[:, :-1].ravel(), ids[:, 1:].ravel()
    vs, ve = ids[:-1, :].ravel(), ids[1:, :].ravel()
    s = np.concatenate([hs, vs])
    e = np.concatenate([he, ve])
    main = np.concatenate(
        [
            np.repeat(np.arange(rows) % MAIN_EVERY == 0, cols - 1),
            np.tile(np.arange(cols) % MAIN_EVERY == 0, rows - 1),
        ]
    )
    # random spanning tree (MST over random weights), then random extra streets
    w = rng.random(len(s)) + 1e-3
    w[main] *= 0.25  # mains are kept preferentially
    mst = minimum_spanning_tree(coo_array((w, (s, e)), shape=(n_grid, n_grid)).tocsr()).tocoo()
    in_tree = np.zeros(len(s), dtype=bool)
    key = s * n_grid + e
    order = np.argsort(key)
    tkey = np.minimum(mst.row, mst.col).astype(np.int64) * n_grid + np.maximum(mst.row, mst.col)
    in_tree[order[np.searchsorted(key[order], tkey)]] = True
    extra_needed = n_pipes - k_res - int(in_tree.sum())
    rest = np.flatnonzero(~in_tree)
    keep = in_tree.copy()
    keep[rng.choice(rest, size=extra_needed, replace=False)] = True
    s, e, main = s[keep], e[keep], main[keep]
    # coordinates: centred on the anchor, ~100 m blocks, jittered
    proj = geo.projector(f"EPSG:{geo.utm_epsg(*ANCHOR)}")
    ox, oy = proj.point_xy(*ANCHOR)
    gx = (np.tile(np.arange(cols), rows) - (cols - 1) / 2.0) * BLOCK_M
    gy = ((rows - 1) / 2.0 - np.repeat(np.arange(rows), cols)) * BLOCK_M
    xy = np.column_stack([ox + gx, oy + gy]) + rng.uniform(-JITTER_M, JITTER_M, (n_grid, 2))
    # reservoirs just outside the grid, each feeding a main node
    targets = ids[0, np.linspace(0, cols - 1, k_res).round().astype(np.int64)]
    rxy = xy[targets] + np.array([0.0, 250.0])
    res = np.arange(n_grid, n_grid + k_res)
    s = np.concatenate([s, res])
    e = np.concatenate([e, targets])
    main = np.concatenate([main, np.ones(k_res, dtype=bool)])
    xy = np.vstack([xy, rxy])
    kind = np.concatenate([np.full(n_grid, JUNCTION, np.int8), np.full(k_res, RESERVOIR, np.int8)])
    m = len(s)
    straight = np.hypot(*(xy[s] - xy[e]).T)
    length = np.round(straight * rng.uniform(1.0, 1.08, m), 2)
    diameter = np.where(main, 0.3, rng.choice(np.array([0.1, 0.15, 0.2]), size=m))
    # strategic N-1 valves: every (link, end node) pair except one random link per node
    pl = np.concatenate([np.arange(m), np.arange(m)])
    pn = np.concatenate([s, e])
    o = np.lexsort((rng.random(2 * m), pn))
    pl, pn = pl[o], pn[o]
    first = np.ones(2 * m, dtype=bool)
    first[1:] = pn[1:] != pn[:-1]
    vl, vn = pl[~first], pn[~first]
    operable = rng.random(len(vl)) >= INOPERABLE_FRACTION
    counts = rng.poisson(customers_per_pipe, size=m)
    cust_link = np.repeat(np.arange(m), counts)
    cust_class = rng.choice(len(CLASS_P), size=len(cust_link), p=CLASS_P).astype(np.int8)
    return SyntheticNetwork(
        crs=proj.crs,
        node_kind=kind,
        node_xy=xy,
        link_start=s.astype(np.int32),
        link_end=e.astype(np.int32),
        length_m=np.maximum(length, 0.01),
        diameter_m=diameter.astype(np.float64),
        valve_link=vl.astype(np.int32),
        valve_node=vn.astype(np.int32),
        valve_operable=operable,
        customer_link=cust_link.astype(np.int32),
        customer_class=cust_class,
    )
