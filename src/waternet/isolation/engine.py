"""Valve isolation engine (issue 4): closure plans for a burst, failed valves, unintended
isolation, consequences, live state, operation order, restore plan and what-if.

Pure module over the compact graph. Build one :class:`IsolationEngine` per network version and
valve layer (segments, segment graph and element graph are built once); supply trees are cached
per live state. See docs/isolation.md for the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from waternet.errors import ValidationFailed
from waternet.isolation.assets import Assets
from waternet.isolation.core import I64, Bool, EngineState, PlanCore
from waternet.isolation.outputs import (
    build_restore,
    build_steps,
    conflicts,
    consequences,
    plan_warnings,
)
from waternet.isolation.plan import (
    AffectedCustomer,
    Consequences,
    IsolationPlan,
    NetworkState,
    PassedValve,
    RestoreStep,
    Step,
)
from waternet.isolation.segments import SegmentIndex
from waternet.isolation.supply import (
    ElementGraph,
    SupplyTree,
    burst_inflow,
    reach_local,
    reversed_edges,
    supplied_in,
)
from waternet.network.topology import PIPE, Topology
from waternet.network.valves import ValveLayer


class IsolationEngine:
    """Isolation planning over one Topology + ValveLayer (+ optional assets)."""

    def __init__(
        self,
        topology: Topology,
        valves: ValveLayer,
        *,
        assets: Assets | None = None,
        sources: Iterable[str] | None = None,
        segments: SegmentIndex | None = None,
    ) -> None:
        self.topology = topology
        self.valves = valves
        self.assets = assets
        self.segments = segments or SegmentIndex.build(topology, valves)
        self.graph = ElementGraph.of(topology)
        if sources is None:
            self.source_mask = topology.node_is_source.copy()
        else:
            idx = [topology.node_index.get(s) for s in sources]
            bad = [s for s, i in zip(sources, idx, strict=True) if i is None]
            if bad:
                raise ValidationFailed(
                    "unknown source node(s)", details=[f"unknown node {s!r}" for s in bad]
                )
            self.source_mask = np.zeros(topology.n_nodes, dtype=bool)
            self.source_mask[np.asarray(idx, dtype=np.int64)] = True
        self._states: dict[NetworkState, EngineState] = {}

    # ------------------------------------------------------------------ state
    def state(self, state: NetworkState | None = None) -> EngineState:
        key = state or NetworkState()
        got = self._states.get(key)
        if got is not None:
            return got
        v = self.valves
        closed_now = ~v.normal_open.copy()
        broken = np.zeros(len(v), dtype=bool)
        if key.closed:
            closed_now[v.indices(sorted(key.closed), what="closed valve")] = True
        if key.broken:
            broken[v.indices(sorted(key.broken), what="broken valve")] = True
        holding_closed = closed_now & ~broken
        closed_inc = np.zeros(2 * self.topology.n_links, dtype=bool)
        closed_inc[self.segments.valve_incidence[holding_closed]] = True
        tree = SupplyTree.build(self.graph, closed_inc, self.source_mask)
        bc = bk = 0
        if self.assets is not None:
            bc = int(self.assets.cust_per_elem[tree.supplied].sum())
            bk = int(self.assets.crit_per_elem[tree.supplied].sum())
        unsupplied = np.flatnonzero(~tree.supplied).astype(np.int64)
        st = EngineState(holding_closed, broken, tree, bc, bk, unsupplied)
        if len(self._states) > 16:
            self._states.pop(next(iter(self._states)))
        self._states[key] = st
        return st

    # ------------------------------------------------------------------ public API
    def plan(
        self,
        *,
        pipe: str | None = None,
        node: str | None = None,
        point: tuple[float, float] | None = None,
        stuck: Iterable[str] = (),
        state: NetworkState | None = None,
        window: tuple[str, str] | None = None,
        what_if: bool = False,
        _conflicts: bool = True,
    ) -> IsolationPlan:
        """Plan for a burst on ``pipe`` (link id), at ``node``, or at ``point`` (snapped to the
        nearest pipe). ``stuck``: valves reported stuck for this incident."""
        t = self.topology
        given = sum(x is not None for x in (pipe, node, point))
        if given != 1:
            raise ValidationFailed("give exactly one of pipe, node or point", details=[])
        if point is not None:
            pipe = t.nearest_link(float(point[0]), float(point[1]))
        if pipe is not None:
            j = t.link_index.get(pipe)
            if j is None:
                raise ValidationFailed(f"unknown pipe {pipe!r}", details=[f"unknown link {pipe!r}"])
            if int(t.link_kind[j]) != PIPE:
                raise ValidationFailed(
                    f"link {pipe!r} is not a pipe", details=[f"link {pipe!r} is a pump or valve"]
                )
            b = t.n_nodes + j
            burst = {"kind": "pipe", "id": pipe}
        else:
            i = t.node_index.get(str(node))
            if i is None:
                raise ValidationFailed(f"unknown node {node!r}", details=[f"unknown node {node!r}"])
            b = i
            burst = {"kind": "node", "id": str(node)}
        stuck_list = list(dict.fromkeys(stuck))
        stuck_mask = np.zeros(len(self.valves), dtype=bool)
        if stuck_list:
            stuck_mask[self.valves.indices(stuck_list, what="stuck valve")] = True
        st = self.state(state)
        core = self.plan_core(b, stuck_mask, st)
        plan = self._assemble(core, st, burst, stuck_list, window)
        if _conflicts and state is not None and not state.is_default:
            plan.conflicts.extend(conflicts(self, core, b, stuck_mask, state))
        if what_if:
            self.add_what_if(plan, state=state)
        return plan

    def add_what_if(self, plan: IsolationPlan, *, state: NetworkState | None = None) -> None:
        """For each valve in the plan, the plan if that valve turns out to be stuck."""
        out: dict[str, IsolationPlan] = {}
        key = "pipe" if plan.burst["kind"] == "pipe" else "node"
        for v in plan.valves_to_close:
            kw: dict[str, Any] = {key: plan.burst["id"]}
            out[v] = self.plan(**kw, stuck=[*plan.stuck, v], state=state, _conflicts=False)
        plan.what_if = out

    # ------------------------------------------------------------------ core algorithm
    def _grow(self, start_seg: int, hold_fail: Bool) -> tuple[list[int], list[int]]:
        seg = self.segments
        area = {start_seg}
        queue = [start_seg]
        passed: list[int] = []
        while queue:
            s = queue.pop()
            vs, others = seg.segment_valves(s)
            for v, o in zip(vs.tolist(), others.tolist(), strict=True):
                if o not in area and hold_fail[v]:
                    area.add(o)
                    queue.append(o)
                    passed.append(v)
        return sorted(area), passed

    def plan_core(self, b: int, stuck: Bool, st: EngineState) -> PlanCore:
        seg, g, tree, v = self.segments, self.graph, st.tree, self.valves
        n = self.topology.n_nodes
        hold_fail = st.broken | (~st.closed & (~v.operable | stuck))
        area, passed_idx = self._grow(int(seg.elem_segment[b]), hold_fail)
        area_set = set(area)
        bvalves: list[int] = []
        for s in area:
            vs, others = seg.segment_valves(s)
            for vv, o in zip(vs.tolist(), others.tolist(), strict=True):
                if o not in area_set:
                    bvalves.append(vv)
        bv = np.unique(np.asarray(bvalves, dtype=np.int64))
        already = bv[st.closed[bv]]
        cand = bv[~st.closed[bv]]
        a_el = np.sort(seg.segment_elements(area))
        q = np.union1d(a_el, tree.descendants(a_el))
        in_area = np.zeros(len(q), dtype=bool)
        in_area[np.searchsorted(q, a_el)] = True
        # inside (y) / outside (x) element of each candidate valve, and may water pass x -> y?
        inc = seg.valve_incidence[cand]
        link_el = n + v.link[cand].astype(np.int64)
        node_el = v.node[cand].astype(np.int64)
        link_inside = np.isin(seg.elem_segment[link_el], area)
        y = np.where(link_inside, link_el, node_el)
        x = np.where(link_inside, node_el, link_el)
        x_to_y = np.where(link_inside, g.inc_n2l[inc], g.inc_l2n[inc])
        # a burst pipe takes water from both ends: no direction rule on its own valves
        if b >= n:
            x_to_y |= y == b
        inflow = burst_inflow(self.topology, b)
        # 1. close every candidate; who is still supplied?
        sup_all = supplied_in(g, q, _with(tree.closed_inc, inc), tree.supplied, inflow)
        x_sup = _lookup(q, sup_all, x, tree.supplied)
        # 2. backwards from the burst through the area and the unsupplied rest
        q2 = q[in_area | ~sup_all]
        b_pos = np.searchsorted(q2, [b]).astype(np.int64)
        feeds_burst = reach_local(
            indptr=g.rev_indptr,
            nbr=g.rev_src,
            nbr_inc=g.rev_inc,
            q=q2,
            closed_inc=tree.closed_inc,
            seed_local=b_pos,
            extra=reversed_edges(inflow),
        )
        y_feeds = _lookup(q2, feeds_burst, y, np.zeros(1, dtype=bool), default=False)
        needed = x_sup & x_to_y & y_feeds
        not_needed = [
            (int(c), "bounds_unsupplied_area" if not xs else "cannot_feed_burst")
            for c, xs, nd in zip(cand.tolist(), x_sup.tolist(), needed.tolist(), strict=True)
            if not nd
        ]
        prop = cand[needed]
        px, py = x[needed], y[needed]
        # 3. final supply with only the proposed valves closed
        closed_p = _with(tree.closed_inc, seg.valve_incidence[prop])
        sup_p = supplied_in(g, q, closed_p, tree.supplied, inflow)
        isolated = q[in_area & ~sup_p]
        cut_off = q[~in_area & ~sup_p]
        # operation order: supply-side (base supply enters the area through it) first,
        # nearest the source first, then larger diameter
        supply_side = tree.parent[py] == px
        depth = tree.depth[px]
        diam = np.nan_to_num(v.diameter_mm[prop], nan=0.0)
        order = np.lexsort((prop, -diam, depth, ~supply_side))
        src_in_area = a_el[(a_el < n)]
        src_in_area = src_in_area[self.source_mask[src_in_area]]
        return PlanCore(
            area_segments=area,
            passed=[(p, _reason(p, st, stuck, v.operable)) for p in passed_idx],
            proposed=prop[order],
            supply_side=supply_side[order],
            already_closed=already,
            not_needed=not_needed,
            q=q,
            in_area=in_area,
            isolated=isolated,
            cut_off=cut_off,
            sources_in_area=src_in_area,
            inflow=inflow,
            unsupplied_before=_without(st.unsupplied, a_el),
        )

    def supplied_customers(
        self, core: PlanCore, st: EngineState, closed_valves: I64
    ) -> tuple[int, int]:
        """Customers (all, critical) still supplied with ``closed_valves`` closed on top of the
        state (the rest of the plan open)."""
        if self.assets is None:
            return (0, 0)
        g, tree = self.graph, st.tree
        closed = _with(tree.closed_inc, self.segments.valve_incidence[closed_valves])
        sup = supplied_in(g, core.q, closed, tree.supplied, core.inflow)
        lost = core.q[~sup & tree.supplied[core.q]]
        return (
            st.base_customers - int(self.assets.cust_per_elem[lost].sum()),
            st.base_critical - int(self.assets.crit_per_elem[lost].sum()),
        )

    # ------------------------------------------------------------------ assembly
    def _assemble(
        self,
        core: PlanCore,
        st: EngineState,
        burst: dict[str, str],
        stuck: list[str],
        window: tuple[str, str] | None,
    ) -> IsolationPlan:
        t, v = self.topology, self.valves
        steps = build_steps(self, core, st)
        return IsolationPlan(
            topology=t,
            burst=burst,
            valves_to_close=[s.valve for s in steps],
            steps=steps,
            already_closed=[v.valve_ids[i] for i in core.already_closed.tolist()],
            not_needed=[{"valve": v.valve_ids[i], "reason": r} for i, r in core.not_needed],
            passed_valves=[PassedValve(v.valve_ids[i], r) for i, r in core.passed],
            isolated_elements=core.isolated,
            cut_off_elements=core.cut_off,
            consequences=consequences(self, core) if self.assets is not None else None,
            restore=build_restore(self, core, st, steps),
            warnings=plan_warnings(self, core),
            stuck=stuck,
            window=window,
            valve_nodes={v.valve_ids[i]: t.node_ids[int(v.node[i])] for i, _ in core.passed},
            area_elements=core.q[core.in_area],
            area_segments=list(core.area_segments),
            unsupplied_before_elements=core.unsupplied_before,
        )

    # ------------------------------------------------------------------ helpers for output
    def pipe_length_volume(self, elems: I64) -> tuple[float, float]:
        t = self.topology
        links = elems[elems >= t.n_nodes] - t.n_nodes
        links = links[t.link_kind[links] == PIPE]
        length = t.link_length_m[links]
        d = np.nan_to_num(t.link_diameter_m[links], nan=0.0)
        return float(length.sum()), float((np.pi * d * d / 4.0 * length).sum())


def _with(mask: Bool, idx: I64) -> Bool:
    out = mask.copy()
    out[idx] = True
    return out


def _without(sorted_elems: I64, elems: I64) -> I64:
    """``sorted_elems`` minus ``elems``, in O(len) (no sort of the large side)."""
    pos = np.searchsorted(sorted_elems, elems)
    hit = pos < len(sorted_elems)
    hit[hit] = sorted_elems[pos[hit]] == elems[hit]
    return np.delete(sorted_elems, pos[hit])


def _lookup(q: I64, vals: Bool, elems: I64, outside: Bool, *, default: bool | None = None) -> Bool:
    """vals for elements in sorted q, ``outside[elem]`` (or ``default``) for the others."""
    if len(elems) == 0:
        return np.zeros(0, dtype=bool)
    pos = np.searchsorted(q, elems)
    pos[pos >= len(q)] = 0
    inq = (q[pos] == elems) if len(q) else np.zeros(len(elems), dtype=bool)
    other = np.full(len(elems), bool(default)) if default is not None else outside[elems]
    return np.where(inq, vals[pos] if len(q) else False, other)


def _reason(v: int, st: EngineState, stuck: Bool, operable: Bool) -> str:
    if stuck[v]:
        return "stuck"
    if st.broken[v]:
        return "broken"
    if not operable[v]:
        return "inoperable"
    return "does_not_hold"


__all__ = [
    "AffectedCustomer",
    "Consequences",
    "IsolationEngine",
    "IsolationPlan",
    "NetworkState",
    "PassedValve",
    "RestoreStep",
    "Step",
]
