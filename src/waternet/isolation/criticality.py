"""Segment criticality for asset planners: every segment ranked by the customers (critical
first) that lose water if it has to be isolated, unintended isolation included; and the single
new valve that would most shrink the worst segment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from waternet.isolation.engine import IsolationEngine
from waternet.isolation.plan import NetworkState
from waternet.network.valves import ValveLayer


@dataclass(frozen=True)
class SegmentImpact:
    segment: int
    critical_customers: int
    customers: int
    nodes_out: int  # isolated + cut-off nodes
    links_out: int
    valves_to_close: int

    def key(self) -> tuple[int, int, int, int]:
        return (self.critical_customers, self.customers, self.nodes_out, self.links_out)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _impact(engine: IsolationEngine, seg: int, state: NetworkState | None) -> SegmentImpact:
    t = engine.topology
    el = engine.segments.segment_elements([seg])
    links = el[el >= t.n_nodes] - t.n_nodes
    kw: dict[str, Any]
    pipes = links[t.link_kind[links] == 0]
    if len(pipes):
        kw = {"pipe": t.link_ids[int(pipes[0])]}
    else:
        kw = (
            {"node": t.node_ids[int(el[0])]}
            if el[0] < t.n_nodes
            else {"node": t.node_ids[int(t.link_start[int(el[0]) - t.n_nodes])]}
        )
    plan = engine.plan(**kw, state=state, _conflicts=False)
    out = np.concatenate([plan.isolated_elements, plan.cut_off_elements])
    cust = crit = 0
    if engine.assets is not None:
        cust = int(engine.assets.cust_per_elem[out].sum())
        crit = int(engine.assets.crit_per_elem[out].sum())
    return SegmentImpact(
        segment=seg,
        critical_customers=crit,
        customers=cust,
        nodes_out=int((out < t.n_nodes).sum()),
        links_out=int((out >= t.n_nodes).sum()),
        valves_to_close=len(plan.valves_to_close),
    )


def rank_segments(
    engine: IsolationEngine, *, state: NetworkState | None = None, limit: int | None = None
) -> list[SegmentImpact]:
    """All segments, worst first (critical customers, customers, nodes, links out of supply)."""
    impacts = [_impact(engine, s, state) for s in range(engine.segments.n_segments)]
    impacts.sort(key=lambda x: (*(-k for k in x.key()), x.segment))
    return impacts[:limit] if limit is not None else impacts


def best_new_valve(
    engine: IsolationEngine, *, segment: int | None = None, state: NetworkState | None = None
) -> dict[str, Any] | None:
    """The single new valve (link, node) inside ``segment`` (default: the worst one) that
    minimises the worst impact of the pieces it splits the segment into."""
    t, v = engine.topology, engine.valves
    if segment is None:
        ranking = rank_segments(engine, state=state, limit=1)
        if not ranking:
            return None
        segment = ranking[0].segment
    before = _impact(engine, segment, state)
    el = engine.segments.segment_elements([segment])
    links = (el[el >= t.n_nodes] - t.n_nodes).tolist()
    existing = set(zip(v.link.tolist(), v.node.tolist(), strict=True))
    rows = v.to_rows(t)
    best: tuple[tuple[int, ...], dict[str, Any]] | None = None
    for j in links:
        if t.link_start[j] == t.link_end[j]:
            continue
        for nd in (int(t.link_start[j]), int(t.link_end[j])):
            if (j, nd) in existing:
                continue
            new_id = f"new:{t.link_ids[j]}@{t.node_ids[nd]}"
            layer = ValveLayer.from_rows(
                [*rows, {"valve": new_id, "link": t.link_ids[j], "node": t.node_ids[nd]}], t
            )
            eng2 = IsolationEngine(t, layer, assets=engine.assets, sources=_sources(engine))
            pieces = {int(eng2.segments.elem_segment[e]) for e in el.tolist()}
            worst = max((_impact(eng2, s, state) for s in pieces), key=lambda x: x.key())
            score = worst.key()
            if best is None or score < best[0]:
                best = (
                    score,
                    {
                        "segment": segment,
                        "link": t.link_ids[j],
                        "node": t.node_ids[nd],
                        "before": before.to_json(),
                        "after_worst_piece": worst.to_json(),
                    },
                )
    return None if best is None else best[1]


def _sources(engine: IsolationEngine) -> list[str]:
    return [engine.topology.node_ids[i] for i in np.flatnonzero(engine.source_mask).tolist()]
