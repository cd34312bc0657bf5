"""Walski valve segments in linear time, and the segment graph (segments as vertices, valves as
edges).

Elements are the nodes (indices ``0..n-1``) and the links (``n..n+m-1``) of a
:class:`~waternet.network.topology.Topology`. Every link touches its two end nodes through an
*incidence*; a valve on (link L, node N) cuts the incidence between L and N. A segment is a
connected component of the node+link bipartite graph after the cuts (one SciPy
``connected_components`` call). This gives exactly WNTR's ``valve_segments`` grouping, including
its treatment of a self-loop link (one valve never separates it from its only node).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from waternet.network.topology import Topology
from waternet.network.valves import ValveLayer

IntArray = npt.NDArray[np.int64]


def valve_incidence(topology: Topology, valves: ValveLayer) -> npt.NDArray[np.int64]:
    """Incidence index per valve: ``2*link`` (valve at the start node) or ``2*link+1`` (end)."""
    at_end = (valves.node != topology.link_start[valves.link]).astype(np.int64)
    out: npt.NDArray[np.int64] = 2 * valves.link.astype(np.int64) + at_end
    return out


@dataclass(frozen=True, eq=False)
class SegmentIndex:
    """Segments of one Topology + ValveLayer, with the segment graph. Build with :meth:`build`."""

    topology: Topology
    valves: ValveLayer
    elem_segment: npt.NDArray[np.int32]  # (n+m,) segment of each node then each link
    n_segments: int
    member_indptr: IntArray  # CSR: segment -> elements
    members: IntArray
    valve_incidence: IntArray  # (v,) incidence cut by each valve
    valve_link_segment: npt.NDArray[np.int32]  # segment on the link side of each valve
    valve_node_segment: npt.NDArray[np.int32]  # segment on the node side of each valve
    adj_indptr: IntArray  # CSR: segment -> incident valves (both sides)
    adj_valve: IntArray
    adj_other: npt.NDArray[np.int32]  # the segment on the other side of that valve

    @classmethod
    def build(cls, topology: Topology, valves: ValveLayer) -> SegmentIndex:
        n, m = topology.n_nodes, topology.n_links
        cut = np.zeros(2 * m, dtype=bool)
        inc = valve_incidence(topology, valves)
        cut[inc] = True
        selfloop = topology.link_start == topology.link_end
        cut[2 * np.flatnonzero(selfloop) + 1] = False  # a self-loop keeps one incidence
        link_elem = n + np.arange(m, dtype=np.int64)
        keep_s = ~cut[0::2]
        keep_e = ~cut[1::2]
        rows = np.concatenate([link_elem[keep_s], link_elem[keep_e]])
        cols = np.concatenate(
            [topology.link_start[keep_s].astype(np.int64), topology.link_end[keep_e]]
        )
        total = n + m
        g = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(total, total))
        n_seg, labels = connected_components(g, directed=False)
        labels = labels.astype(np.int32)
        order = np.argsort(labels, kind="stable").astype(np.int64)
        indptr = np.zeros(n_seg + 1, dtype=np.int64)
        np.cumsum(np.bincount(labels, minlength=n_seg), out=indptr[1:])
        vls = labels[n + valves.link.astype(np.int64)]
        vns = labels[valves.node.astype(np.int64)]
        vidx = np.arange(len(valves), dtype=np.int64)
        src = np.concatenate([vls, vns])
        oth = np.concatenate([vns, vls])
        vv = np.concatenate([vidx, vidx])
        o2 = np.argsort(src, kind="stable")
        adj_indptr = np.zeros(n_seg + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n_seg), out=adj_indptr[1:])
        return cls(
            topology=topology,
            valves=valves,
            elem_segment=labels,
            n_segments=int(n_seg),
            member_indptr=indptr,
            members=order,
            valve_incidence=inc,
            valve_link_segment=vls,
            valve_node_segment=vns,
            adj_indptr=adj_indptr,
            adj_valve=vv[o2],
            adj_other=oth[o2].astype(np.int32),
        )

    # ------------------------------------------------------------------ queries
    @property
    def node_segment(self) -> npt.NDArray[np.int32]:
        return self.elem_segment[: self.topology.n_nodes]

    @property
    def link_segment(self) -> npt.NDArray[np.int32]:
        return self.elem_segment[self.topology.n_nodes :]

    def segment_elements(self, segs: Any) -> IntArray:
        """Element indices of the given segments (concatenated)."""
        segs = np.atleast_1d(np.asarray(segs, dtype=np.int64))
        if len(segs) == 1:
            s = int(segs[0])
            return self.members[self.member_indptr[s] : self.member_indptr[s + 1]]
        starts = self.member_indptr[segs]
        lens = self.member_indptr[segs + 1] - starts
        return self.members[_ranges(starts, lens)]

    def segment_valves(self, seg: int) -> tuple[IntArray, npt.NDArray[np.int32]]:
        """(valve indices, segment on the other side) for the valves touching ``seg``."""
        a, b = self.adj_indptr[seg], self.adj_indptr[seg + 1]
        return self.adj_valve[a:b], self.adj_other[a:b]

    def sizes(self) -> tuple[IntArray, IntArray]:
        """(nodes per segment, links per segment)."""
        n = self.topology.n_nodes
        return (
            np.bincount(self.elem_segment[:n], minlength=self.n_segments).astype(np.int64),
            np.bincount(self.elem_segment[n:], minlength=self.n_segments).astype(np.int64),
        )

    def to_json(self) -> dict[str, Any]:
        """``{"node_segment": {node_id: seg}, "link_segment": {link_id: seg}, "segments": N}``."""
        t = self.topology
        ns = self.node_segment.tolist()
        ls = self.link_segment.tolist()
        return {
            "node_segment": dict(zip(t.node_ids, ns, strict=True)),
            "link_segment": dict(zip(t.link_ids, ls, strict=True)),
            "segments": self.n_segments,
        }


def _ranges(starts: IntArray, lens: IntArray) -> IntArray:
    """Concatenation of ``arange(s, s+l)`` for every (s, l), vectorised."""
    lens = np.asarray(lens, dtype=np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    nz = lens > 0
    starts = np.asarray(starts, dtype=np.int64)[nz]
    lens = lens[nz]
    out = np.ones(total, dtype=np.int64)
    out[0] = starts[0]
    pos = np.cumsum(lens)[:-1]
    out[pos] = starts[1:] - (starts[:-1] + lens[:-1] - 1)
    return np.cumsum(out)


ranges = _ranges
