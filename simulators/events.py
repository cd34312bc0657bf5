"""Bursts, background leakage and valve closures, applied to a WNTR network for EPANET.

WNTR's ``add_leak`` is honoured only by its own pressure-dependent WNTRSimulator, which is a
Python Newton solver and far slower than EPANET on a day at 1-minute steps. We keep the EPANET
solver and model leaks as EPANET *emitters* (``q = C * p^0.5``) with the orifice law's
coefficient ``C = Cd * A * sqrt(2 g)`` (SI: m3/s per m^0.5), which is the same law WNTR's leak
model uses with exponent 0.5.

A burst splits its pipe (``wntr.morph.split_pipe``) and hangs one small *leak node* per growth
step off the split node through a 1 m wide pipe that is CLOSED until a time control opens it
at the step's start: a sudden burst is one step, a growing burst several steps whose hole areas
add up. EPANET reports the emitter flow as the leak node's demand, which gives the burst flow
for the ground truth. Background leakage puts small emitters on junctions in proportion to
half the length of their pipes. Closures from an isolation plan are time controls on the
links' status (closed at ``t_close``, reopened at ``t_open``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import wntr
from wntr.network import LinkStatus
from wntr.network.controls import Control, ControlAction, SimTimeCondition

G = 9.81


def orifice_coefficient(area_m2: float, cd: float) -> float:
    """EPANET emitter coefficient (SI, m3/s per m^0.5) of an orifice of area A and Cd."""
    return cd * area_m2 * math.sqrt(2 * G)


@dataclass(frozen=True, slots=True)
class Burst:
    """A burst on ``pipe`` at ``start_s`` (seconds from the scenario start).

    ``growth_s`` = 0 is a sudden burst; otherwise the hole opens in ``steps`` equal steps over
    ``growth_s`` seconds (growing crack). ``end_s`` (optional) is when it is repaired.
    """

    pipe: str
    start_s: int
    hole_area_m2: float = 0.002
    cd: float = 0.75
    growth_s: int = 0
    steps: int = 4
    split_at: float = 0.5

    def schedule(self) -> list[tuple[int, float]]:
        """(start second, added hole area) per step."""
        if self.growth_s <= 0 or self.steps <= 1:
            return [(self.start_s, self.hole_area_m2)]
        dt = self.growth_s / (self.steps - 1)
        return [
            (round(self.start_s + k * dt), self.hole_area_m2 / self.steps)
            for k in range(self.steps)
        ]

    @property
    def node(self) -> str:
        return f"{self.pipe}__burst"

    def leak_nodes(self) -> list[str]:
        return [f"{self.pipe}__leak{k}" for k in range(len(self.schedule()))]


@dataclass(frozen=True, slots=True)
class BackgroundLeakage:
    """Background leakage: ``cd * area_per_km`` of orifice per km of pipe, shared on nodes."""

    area_per_km_m2: float = 2e-5
    cd: float = 0.6


@dataclass(frozen=True, slots=True)
class Closure:
    """Links of an isolation plan closed at ``t_close`` and reopened at ``t_open`` (or never)."""

    links: tuple[str, ...]
    t_close: int
    t_open: int | None = None
    label: str = "isolation"


@dataclass
class AppliedEvents:
    """What was changed in the network, for the ground truth."""

    bursts: list[Burst] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)
    background: BackgroundLeakage | None = None
    background_coeffs: dict[str, float] = field(default_factory=dict)
    split_pipe: dict[str, str] = field(default_factory=dict)  # burst pipe -> new half


def apply_events(
    wn: wntr.network.WaterNetworkModel,
    *,
    bursts: Sequence[Burst] = (),
    closures: Sequence[Closure] = (),
    background: BackgroundLeakage | None = None,
) -> tuple[wntr.network.WaterNetworkModel, AppliedEvents]:
    """Return a modified copy of ``wn`` with the events, and what was applied."""
    applied = AppliedEvents(background=background)
    if background is not None:
        for jname, coeff in background_coefficients(wn, background).items():
            wn.get_node(jname).emitter_coefficient = coeff
            applied.background_coeffs[jname] = coeff
    for b in bursts:
        new_half = f"{b.pipe}__b"
        wn = wntr.morph.split_pipe(
            wn, b.pipe, new_half, b.node, split_at_point=b.split_at, return_copy=True
        )
        applied.split_pipe[b.pipe] = new_half
        bn = wn.get_node(b.node)
        for k, ((t, area), leak) in enumerate(zip(b.schedule(), b.leak_nodes(), strict=True)):
            wn.add_junction(
                leak, base_demand=0.0, elevation=bn.elevation, coordinates=bn.coordinates
            )
            wn.get_node(leak).emitter_coefficient = orifice_coefficient(area, b.cd)
            link = f"{b.pipe}__leakpipe{k}"
            wn.add_pipe(
                link,
                b.node,
                leak,
                length=1.0,
                diameter=0.6,
                roughness=140.0,
                minor_loss=0.0,
                initial_status="CLOSED",
            )
            _time_control(wn, f"{link}__open", link, t, LinkStatus.Open)
        applied.bursts.append(b)
    for c_idx, c in enumerate(closures):
        for link in c.links:
            _time_control(wn, f"wnsim_close_{c_idx}_{link}", link, c.t_close, LinkStatus.Closed)
            if c.t_open is not None:
                _time_control(wn, f"wnsim_open_{c_idx}_{link}", link, c.t_open, LinkStatus.Open)
        applied.closures.append(c)
    return wn, applied


def _time_control(
    wn: wntr.network.WaterNetworkModel, name: str, link: str, t: int, status: Any
) -> None:
    obj = wn.get_link(link)
    wn.add_control(
        name, Control(SimTimeCondition(wn, "=", float(t)), ControlAction(obj, "status", status))
    )


def background_coefficients(
    wn: wntr.network.WaterNetworkModel, bg: BackgroundLeakage
) -> dict[str, float]:
    """Emitter coefficient per junction: half the length of each adjoining pipe."""
    km: dict[str, float] = {}
    for _, pipe in wn.pipes():
        for n in (pipe.start_node_name, pipe.end_node_name):
            km[n] = km.get(n, 0.0) + pipe.length / 2000.0
    return {
        j: orifice_coefficient(bg.area_per_km_m2 * km[j], bg.cd)
        for j in sorted(wn.junction_name_list)
        if km.get(j, 0.0) > 0
    }


def burst_flows(applied: AppliedEvents, demand: pd.DataFrame) -> dict[str, np.ndarray]:
    """Burst flow (m3/s) per burst pipe over the result times: the leak nodes' demand."""
    out = {}
    for b in applied.bursts:
        out[b.pipe] = np.clip(demand[b.leak_nodes()].to_numpy(dtype=float), 0, None).sum(axis=1)
    return out


def emitter_flows(
    coeffs: dict[str, float], pressure: pd.DataFrame, exponent: float = 0.5
) -> pd.DataFrame:
    """Flow out of the background-leakage emitters (m3/s), from the simulated pressures."""
    if not coeffs:
        return pd.DataFrame(index=pressure.index)
    names = list(coeffs)
    p = np.clip(pressure[names].to_numpy(dtype=float), 0, None)
    return pd.DataFrame(
        p**exponent * np.array([coeffs[n] for n in names]), index=pressure.index, columns=names
    )


def events_truth(
    applied: AppliedEvents,
    *,
    times: np.ndarray,
    demand: pd.DataFrame,
    flowrate: pd.DataFrame,
    bg_flow: pd.DataFrame,
    start_epoch: float,
) -> dict[str, Any]:
    """The ground truth of the events: where, when, how much (JSON-ready)."""
    dt = np.diff(times, append=times[-1] + (times[1] - times[0] if len(times) > 1 else 0))
    bursts = []
    flows = burst_flows(applied, demand)
    for b in applied.bursts:
        q = flows[b.pipe]
        bursts.append(
            {
                "type": "burst",
                "pipe": b.pipe,
                "new_pipe": applied.split_pipe[b.pipe],
                "node": b.node,
                "start_s": b.start_s,
                "start_ts": _iso(start_epoch + b.start_s),
                "hole_area_m2": b.hole_area_m2,
                "cd": b.cd,
                "growth": "sudden" if len(b.schedule()) == 1 else "growing",
                "steps": [{"t_s": t, "added_area_m2": a} for t, a in b.schedule()],
                "peak_flow_m3s": float(q.max(initial=0.0)),
                "volume_m3": float((q * dt).sum()),
                "flow_m3s": [round(float(v), 6) for v in q],
            }
        )
    closures = []
    for c in applied.closures:
        before = [
            float(flowrate[link].iloc[max(0, int(np.searchsorted(times, c.t_close)) - 1)])
            for link in c.links
        ]
        closures.append(
            {
                "type": "closure",
                "label": c.label,
                "links": list(c.links),
                "t_close_s": c.t_close,
                "t_open_s": c.t_open,
                "close_ts": _iso(start_epoch + c.t_close),
                "open_ts": None if c.t_open is None else _iso(start_epoch + c.t_open),
                "flow_before_m3s": before,
            }
        )
    bg_total = (
        bg_flow.to_numpy(dtype=float).sum(axis=1) if bg_flow.shape[1] else np.zeros(len(times))
    )
    return {
        "bursts": bursts,
        "closures": closures,
        "background_leakage": None
        if applied.background is None
        else {
            "area_per_km_m2": applied.background.area_per_km_m2,
            "cd": applied.background.cd,
            "nodes": len(applied.background_coeffs),
            "mean_flow_m3s": float(bg_total.mean()) if len(bg_total) else 0.0,
            "volume_m3": float((bg_total * dt).sum()),
        },
    }


def _iso(epoch: float) -> str:
    return pd.Timestamp(epoch, unit="s", tz="UTC").isoformat().replace("+00:00", "Z")


def nearest_sites(
    wn: wntr.network.WaterNetworkModel,
    node: str,
    sites: Sequence[Any],
    *,
    kind: str = "pressure",
    k: int = 3,
) -> list[Any]:
    """The ``k`` sites of ``kind`` closest to ``node`` along the pipes (by pipe length).

    For a burst, pass the burst's split node (``Burst.node``) and the modified network.
    """
    import networkx as nx

    graph: nx.Graph[str] = nx.Graph()
    for name, link in wn.links():
        length = float(getattr(link, "length", 1.0) or 1.0)
        graph.add_edge(link.start_node_name, link.end_node_name, weight=length, name=name)
    dist = nx.single_source_dijkstra_path_length(graph, node, weight="weight")
    candidates = [s for s in sites if s.kind == kind and s.element in dist]
    return sorted(candidates, key=lambda s: (dist[s.element], s.code))[:k]
