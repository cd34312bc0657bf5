"""Directed supply reachability over the node+link element graph, for the isolation engine.

Water rules (issue 4): pipes whose initial status is Closed carry no water; pumps and control
valves always count as available; pumps, check-valve pipes, PRVs and PSVs carry water from their
start node to their end node only; other links both ways. A closed valve on (link, node) cuts
that incidence in both directions.

:class:`SupplyTree` is built once per network state (set of closed incidences, set of sources):
a BFS tree from a virtual super-source, with preorder numbering so that the descendants of any
element are one contiguous slice. Closing valves around an area A can only take supply away from
A and from the descendants of A in that tree; :func:`reach_local` recomputes supply on that small
set only, seeded from its supplied surroundings. That keeps a plan proportional to the affected
part of the network, not to the network.

The burst element itself is the exception to the water rules (issue 11): a ruptured pipe takes
water in from both of its end nodes whatever its check valve or initial status.
:func:`burst_inflow` gives those extra edges; :func:`reach_local` and :func:`entry_seeds` take
them on top of the graph, so the rules still hold everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from waternet.isolation.segments import ranges
from waternet.network.topology import Topology

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
Edges = tuple[I64, I64, I64]  # (source element, target element, incidence) of extra edges
NO_EDGES: Edges = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


@dataclass(frozen=True, eq=False)
class ElementGraph:
    """Directed element graph with the incidence of each edge, as forward and reverse CSR."""

    n_elements: int
    fwd_indptr: I64
    fwd_dst: I64
    fwd_inc: I64
    rev_indptr: I64
    rev_src: I64
    rev_inc: I64
    inc_n2l: Bool  # (2m,) water may pass node -> link at this incidence
    inc_l2n: Bool  # (2m,) water may pass link -> node

    @classmethod
    def of(cls, topology: Topology) -> ElementGraph:
        """The topology's element graph (built once per topology)."""
        return topology.derived("isolation.element_graph", lambda: cls.build(topology))

    @classmethod
    def build(cls, topology: Topology) -> ElementGraph:
        n, m = topology.n_nodes, topology.n_links
        open_ = ~topology.link_closed
        oneway = topology.link_oneway
        n2l = np.empty(2 * m, dtype=bool)
        l2n = np.empty(2 * m, dtype=bool)
        n2l[0::2] = open_
        n2l[1::2] = open_ & ~oneway
        l2n[0::2] = open_ & ~oneway
        l2n[1::2] = open_
        inc = np.arange(2 * m, dtype=np.int64)
        node_of = np.empty(2 * m, dtype=np.int64)
        node_of[0::2] = topology.link_start
        node_of[1::2] = topology.link_end
        link_of = n + (inc // 2)
        src = np.concatenate([node_of[n2l], link_of[l2n]])
        dst = np.concatenate([link_of[n2l], node_of[l2n]])
        einc = np.concatenate([inc[n2l], inc[l2n]])
        total = n + m
        fo = np.argsort(src, kind="stable")
        ro = np.argsort(dst, kind="stable")
        fptr = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=total), out=fptr[1:])
        rptr = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=total), out=rptr[1:])
        return cls(
            n_elements=total,
            fwd_indptr=fptr,
            fwd_dst=dst[fo],
            fwd_inc=einc[fo],
            rev_indptr=rptr,
            rev_src=src[ro],
            rev_inc=einc[ro],
            inc_n2l=n2l,
            inc_l2n=l2n,
        )


@dataclass(frozen=True, eq=False)
class SupplyTree:
    """Supply BFS tree of one network state."""

    closed_inc: Bool  # (2m,) incidences closed in this state
    source_mask: Bool  # (n,) nodes acting as sources
    supplied: Bool  # (E,) reachable from a source in this state
    parent: I64  # (E,) tree parent element, -1 for sources' super-root and unreached
    depth: I64  # (E,) hops from the super-source (sources have 1), -1 unreached
    pre: I64  # (E,) preorder position, -1 unreached
    size: I64  # (E,) subtree size
    by_pre: I64  # elements in preorder

    @classmethod
    def build(cls, graph: ElementGraph, closed_inc: Bool, source_mask: Bool) -> SupplyTree:
        e = graph.n_elements
        keep = ~closed_inc[graph.fwd_inc]
        counts = np.diff(graph.fwd_indptr)
        srcs = np.repeat(np.arange(e, dtype=np.int64), counts)[keep]
        dsts = graph.fwd_dst[keep]
        sources = np.flatnonzero(source_mask).astype(np.int64)
        rows = np.concatenate([srcs, np.full(len(sources), e, dtype=np.int64)])
        cols = np.concatenate([dsts, sources])
        csr = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(e + 1, e + 1))
        order, pred = breadth_first_order(csr, e, directed=True, return_predecessors=True)
        order = order.astype(np.int64)
        pred = pred.astype(np.int64)
        parent = np.full(e + 1, -1, dtype=np.int64)
        reached = order[1:]
        parent[reached] = pred[reached]
        # depth by pointer jumping (log2(height) vectorised rounds)
        anc = np.where(parent >= 0, parent, np.arange(e + 1, dtype=np.int64))
        dist = (parent >= 0).astype(np.int64)
        while True:
            nxt = anc[anc]
            if np.array_equal(nxt, anc):
                break
            dist = dist + dist[anc]
            anc = nxt
        depth = np.where((parent >= 0) | (np.arange(e + 1) == e), dist, -1)
        # BFS order is sorted by depth: each level is a contiguous run of ``order``
        bounds = [
            int(x) for x in np.searchsorted(depth[order], np.arange(1, int(depth[order].max()) + 2))
        ]
        size = np.zeros(e + 1, dtype=np.int64)
        size[order] = 1
        for k in range(len(bounds) - 1, 0, -1):
            lvl = order[bounds[k - 1] : bounds[k]]
            np.add.at(size, parent[lvl], size[lvl])
        pre = np.full(e + 1, -1, dtype=np.int64)
        pre[e] = -1  # the super-root is not an element; sources start at 0
        for k in range(1, len(bounds)):
            lvl = order[bounds[k - 1] : bounds[k]]
            if len(lvl) == 0:
                continue
            par = parent[lvl]
            srt = np.argsort(par, kind="stable")
            lvl = lvl[srt]
            par = par[srt]
            sz = size[lvl]
            excl = np.cumsum(sz) - sz
            first = np.ones(len(lvl), dtype=bool)
            first[1:] = par[1:] != par[:-1]
            gstart = np.maximum.accumulate(np.where(first, np.arange(len(lvl)), 0))
            pre[lvl] = pre[par] + 1 + excl - excl[gstart]
        supplied = np.zeros(e, dtype=bool)
        supplied[reached] = True
        by_pre = np.full(len(reached), -1, dtype=np.int64)
        by_pre[pre[reached]] = reached
        parent[parent == e] = -1
        return cls(
            closed_inc=closed_inc,
            source_mask=source_mask,
            supplied=supplied,
            parent=parent[:e],
            depth=depth[:e],
            pre=pre[:e],
            size=size[:e],
            by_pre=by_pre,
        )

    def descendants(self, elems: I64) -> I64:
        """Elements whose tree path passes through any of ``elems`` (themselves included)."""
        elems = elems[self.pre[elems] >= 0]
        if len(elems) == 0:
            return np.zeros(0, dtype=np.int64)
        starts = self.pre[elems]
        ends = starts + self.size[elems]
        o = np.argsort(starts, kind="stable")
        starts, ends = starts[o], ends[o]
        # drop intervals nested in an earlier one
        keep = ends > np.concatenate([[-1], np.maximum.accumulate(ends)[:-1]])
        starts, ends = starts[keep], ends[keep]
        return self.by_pre[ranges(starts, ends - starts)]


def burst_inflow(topology: Topology, b: int) -> Edges:
    """Edges by which a rupture of element ``b`` takes water: from each end node of a burst
    pipe into it, whatever its check valve or initial status (a valve closed on the incidence
    still cuts it). Nothing extra for a node burst: its links keep their rules."""
    n = topology.n_nodes
    if b < n:
        return NO_EDGES
    j = b - n
    ends = np.array([topology.link_start[j], topology.link_end[j]], dtype=np.int64)
    return ends, np.array([b, b], dtype=np.int64), np.array([2 * j, 2 * j + 1], dtype=np.int64)


def reversed_edges(edges: Edges) -> Edges:
    return edges[1], edges[0], edges[2]


def reach_local(
    *,
    indptr: I64,
    nbr: I64,
    nbr_inc: I64,
    q: I64,
    closed_inc: Bool,
    seed_local: I64,
    extra: Edges = NO_EDGES,
) -> Bool:
    """Elements of the sorted set ``q`` reachable from ``seed_local`` (positions in q) along
    edges (``indptr``/``nbr``/``nbr_inc`` CSR, plus ``extra``, in the same direction) staying
    inside q and not crossing closed incidences. Returns a bool mask over q."""
    k = len(q)
    out = np.zeros(k, dtype=bool)
    if k == 0 or len(seed_local) == 0:
        return out
    starts = indptr[q]
    lens = indptr[q + 1] - starts
    idx = ranges(starts, lens)
    src = np.repeat(np.arange(k, dtype=np.int64), lens)
    dst = nbr[idx]
    ok = ~closed_inc[nbr_inc[idx]]
    if len(extra[0]):
        in_q, e_src = _positions(q, extra[0])
        src = np.concatenate([src, e_src])
        dst = np.concatenate([dst, extra[1]])
        ok = np.concatenate([ok, in_q & ~closed_inc[extra[2]]])
    pos = np.searchsorted(q, dst)
    pos[pos >= k] = 0
    ok &= q[pos] == dst
    rows = np.concatenate([src[ok], np.full(len(seed_local), k, dtype=np.int64)])
    cols = np.concatenate([pos[ok], seed_local])
    csr = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(k + 1, k + 1))
    order = breadth_first_order(csr, k, directed=True, return_predecessors=False)
    out[order[order < k]] = True
    return out


def supplied_in(
    graph: ElementGraph, q: I64, closed_inc: Bool, supplied_outside: Bool, extra: Edges = NO_EDGES
) -> Bool:
    """Mask over sorted ``q``: supplied with ``closed_inc`` shut, water entering q from the
    supplied elements outside it (whose supply does not change), along the graph plus
    ``extra`` edges."""
    return reach_local(
        indptr=graph.fwd_indptr,
        nbr=graph.fwd_dst,
        nbr_inc=graph.fwd_inc,
        q=q,
        closed_inc=closed_inc,
        seed_local=entry_seeds(graph, q, closed_inc, supplied_outside, extra),
        extra=extra,
    )


def entry_seeds(
    graph: ElementGraph,
    q: I64,
    closed_inc: Bool,
    supplied_outside: Bool,
    extra: Edges = NO_EDGES,
) -> I64:
    """Positions in sorted ``q`` with an open in-edge (of the graph or ``extra``) from a
    supplied element outside q."""
    k = len(q)
    starts = graph.rev_indptr[q]
    lens = graph.rev_indptr[q + 1] - starts
    idx = ranges(starts, lens)
    tgt = np.repeat(np.arange(k, dtype=np.int64), lens)
    src = graph.rev_src[idx]
    ok = ~closed_inc[graph.rev_inc[idx]]
    if len(extra[0]):
        in_q, e_tgt = _positions(q, extra[1])
        tgt = np.concatenate([tgt, e_tgt])
        src = np.concatenate([src, extra[0]])
        ok = np.concatenate([ok, in_q & ~closed_inc[extra[2]]])
    ok &= supplied_outside[src]
    pos = np.searchsorted(q, src)
    pos[pos >= k] = 0
    ok &= q[pos] != src
    return np.unique(tgt[ok])


def _positions(q: I64, elems: I64) -> tuple[Bool, I64]:
    """(element in sorted ``q``?, its position there, 0 when not)."""
    if len(q) == 0:
        return np.zeros(len(elems), dtype=bool), np.zeros(len(elems), dtype=np.int64)
    pos = np.searchsorted(q, elems)
    pos[pos >= len(q)] = 0
    return q[pos] == elems, pos
