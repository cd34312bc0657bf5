"""Operation order, restore plan and consequences of a plan (helpers of isolation.py)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from waternet.isolation.core import EngineState, PlanCore
from waternet.isolation.plan import (
    AffectedCustomer,
    Consequences,
    NetworkState,
    RestoreStep,
    Step,
)

if TYPE_CHECKING:
    from waternet.isolation.engine import IsolationEngine


def build_steps(engine: IsolationEngine, core: PlanCore, st: EngineState) -> list[Step]:
    """One step per valve to close, in operation order, with customers still supplied after it."""
    t, v = engine.topology, engine.valves
    steps: list[Step] = []
    prop = core.proposed
    for k, (i, side) in enumerate(zip(prop.tolist(), core.supply_side.tolist(), strict=True)):
        node = int(v.node[i])
        xy = None
        if t.node_xy is not None:
            xy = (float(t.node_xy[node, 0]), float(t.node_xy[node, 1]))
        cs = cc = None
        if engine.assets is not None:
            cs, cc = engine.supplied_customers(core, st, prop[: k + 1])
        d = float(v.diameter_mm[i])
        steps.append(
            Step(
                order=k + 1,
                valve=v.valve_ids[i],
                link=t.link_ids[int(v.link[i])],
                node=t.node_ids[node],
                diameter_mm=None if np.isnan(d) else d,
                xy=xy,
                supply_side=bool(side),
                customers_supplied=cs,
                critical_supplied=cc,
            )
        )
    return steps


def build_restore(
    engine: IsolationEngine, core: PlanCore, st: EngineState, steps: list[Step]
) -> list[RestoreStep]:
    """Stage 1 reopens one supply-side valve slowly, so that the repaired pipe refills from one
    side (air released at a hydrant or air valve in the area); stage 2 reopens the others in the
    reverse of the closing order."""
    if not steps:
        return []
    prop = core.proposed
    first = 0
    out: list[RestoreStep] = []
    reopen_order = [first] + [k for k in range(len(steps) - 1, -1, -1) if k != first]
    still_closed = list(range(len(steps)))
    for n_done, k in enumerate(reopen_order):
        still_closed.remove(k)
        cs = None
        if engine.assets is not None:
            cs, _ = engine.supplied_customers(core, st, prop[still_closed])
        if n_done == 0:
            note = (
                "open slowly to refill the repaired pipe from this side only; release air and "
                "flush before opening the others"
            )
            stage = 1
        else:
            note = "open after the area is refilled and flushed"
            stage = 2
        out.append(RestoreStep(stage=stage, valve=steps[k].valve, note=note, customers_supplied=cs))
    return out


def plan_warnings(engine: IsolationEngine, core: PlanCore) -> list[str]:
    """Warnings for the dispatcher: sources draining through the burst, an area no valve
    bounds, and parts that had no supply before the plan (they are not its cut-off)."""
    t, a = engine.topology, engine.assets
    out = [
        f"source {t.node_ids[s]!r} is inside the isolated area: it will drain through "
        "the burst unless its outlet is closed"
        for s in core.sources_in_area.tolist()
    ]
    if len(core.proposed) == 0 and len(core.already_closed) == 0 and not core.not_needed:
        out.append("no valve bounds the burst area: it cannot be isolated by valves")
    dry = core.unsupplied_before
    if len(dry):
        n_nodes = int((dry < t.n_nodes).sum())
        who = ""
        if a is not None:
            cust = int(a.cust_per_elem[dry].sum())
            crit = int(a.crit_per_elem[dry].sum())
            who = f", {cust} customer(s) ({crit} critical)"
        out.append(
            f"{n_nodes} node(s) and {len(dry) - n_nodes} link(s){who} had no supply before this "
            "plan (behind closed valves or pipes, or reachable only against a pump or check "
            "valve): they are listed in unsupplied_before, not as cut off by this plan"
        )
    return out


def consequences(engine: IsolationEngine, core: PlanCore) -> Consequences:
    t, a = engine.topology, engine.assets
    assert a is not None
    n = t.n_nodes
    iso, cut = core.isolated, core.cut_off
    customers: list[AffectedCustomer] = []
    for status, elems in (("isolated", iso), ("cut_off", cut)):
        for ci in a.pick(a.cust_csr, elems).tolist():
            c = a.customers[ci]
            customers.append(
                AffectedCustomer(c.account, c.klass, c.critical, status, c.node, c.link)
            )
    customers.sort(key=lambda c: (not c.critical, c.status != "isolated", c.account))
    both = np.concatenate([iso, cut])
    hyd = sorted(a.hydrants[h].id for h in a.pick(a.hyd_csr, both).tolist())
    sen = sorted(a.sensors[s].id for s in a.pick(a.sen_csr, both).tolist())
    nodes = both[both < n].tolist()
    dmas = sorted({d for d in (a.node_dma[i] for i in nodes) if d is not None})
    iso_len, iso_vol = engine.pipe_length_volume(iso)
    cut_len, _ = engine.pipe_length_volume(cut)
    dry = core.unsupplied_before
    return Consequences(
        customers=customers,
        by_class=dict(sorted(Counter(c.klass for c in customers).items())),
        critical_count=sum(1 for c in customers if c.critical),
        hydrants_out_of_service=hyd,
        sensors_reading_zero=sen,
        isolated_pipe_length_m=iso_len,
        isolated_volume_m3=iso_vol,
        cut_off_pipe_length_m=cut_len,
        dmas_touched=dmas,
        unsupplied_before_customers=int(a.cust_per_elem[dry].sum()),
        unsupplied_before_critical_count=int(a.crit_per_elem[dry].sum()),
        unsupplied_before_pipe_length_m=engine.pipe_length_volume(dry)[0],
    )


def conflicts(
    engine: IsolationEngine, core: PlanCore, b: int, stuck: Any, state: NetworkState
) -> list[dict[str, Any]]:
    t, v = engine.topology, engine.valves
    out: list[dict[str, Any]] = []
    base = engine.plan_core(b, stuck, engine.state(None))
    extra_iso = np.setdiff1d(core.isolated, base.isolated)
    extra_cut = np.setdiff1d(core.cut_off, base.cut_off)
    extra = np.union1d(extra_iso, extra_cut)
    if len(extra):
        n = t.n_nodes
        out.append(
            {
                "kind": "extra_outage",
                "message": "the live valve state makes this plan take more out of supply",
                "nodes": [t.node_ids[i] for i in extra[extra < n].tolist()],
                "links": [t.link_ids[i - n] for i in extra[extra >= n].tolist()],
                "closed_valves": sorted(state.closed),
                "broken_valves": sorted(state.broken),
            }
        )
    shared = [
        v.valve_ids[i] for i in core.already_closed.tolist() if v.valve_ids[i] in state.closed
    ]
    if shared:
        out.append(
            {
                "kind": "shared_valves",
                "message": "valves closed by another plan also bound this area: keep them "
                "closed until this plan is restored",
                "valves": shared,
            }
        )
    return out
