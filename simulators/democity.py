"""The demo city (``waternet.demo.city``) as a simulation input.

``demo_city_inputs(size, seed=...)`` returns the WNTR model of the city, its sensor sites as
``SensorSite``s and the customer class of each demand junction. Sensor kinds simulated: PT
(pressure), FT (flow), LT (tank level), MT (one smart meter per customer). Quality and pump
status sensors (CL, TB, PH, PS) have no hydraulic value here and are left out. A meter on a
pipe is supplied by the end of that pipe with the larger base demand; meters at a junction
share its consumer demand equally.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.sites import METER_MODELS, SensorSite, meter_identity, stable_rng

KINDS = {"PT": "pressure", "FT": "flow", "LT": "level", "MT": "meter"}
CRITICAL = frozenset({"hospital", "dialysis", "school", "fire_station", "care_home"})


@dataclass
class DemoInputs:
    model: Any  # waternet.network.model.NetworkModel
    wn: Any  # wntr WaterNetworkModel
    sites: list[SensorSite]
    classes: dict[str, str]  # junction -> residential | commercial | industrial | critical


def demo_city_inputs(
    size: str = "small",
    *,
    seed: int = 7,
    batch_fraction: float = 0.5,
    meter_mix: Sequence[tuple[str, float]] = (("ctwing", 0.4), ("onenet", 0.3), ("mqtt-raw", 0.3)),
    max_meters: int | None = None,
) -> DemoInputs:
    from waternet.demo.city import build_demo_city
    from waternet.network.importers.inp_writer import model_to_wntr

    model = build_demo_city(size, seed=seed)  # type: ignore[arg-type]
    wn = model_to_wntr(model)
    sites, classes = sites_from_model(
        model,
        wn,
        seed=seed,
        batch_fraction=batch_fraction,
        meter_mix=meter_mix,
        max_meters=max_meters,
    )
    return DemoInputs(model=model, wn=wn, sites=sites, classes=classes)


def _base_demand(wn: Any, node: str) -> float:
    obj = wn.get_node(node)
    if obj.node_type != "Junction":
        return 0.0
    return float(sum(d.base_value for d in obj.demand_timeseries_list))


def _supply_node(wn: Any, model: Any, s: Any) -> str | None:
    if s.node is not None:
        return str(s.node)
    link = model.link(s.link)
    ends = [link.start, link.end]
    return max(ends, key=lambda n: (_base_demand(wn, n), n == link.start))


def sites_from_model(
    model: Any,
    wn: Any,
    *,
    seed: int,
    batch_fraction: float = 0.5,
    meter_mix: Sequence[tuple[str, float]] = (("ctwing", 0.4), ("onenet", 0.3), ("mqtt-raw", 0.3)),
    max_meters: int | None = None,
) -> tuple[list[SensorSite], dict[str, str]]:
    rng = stable_rng(seed, "demo-sites")
    kinds = [k for k, _ in meter_mix]
    probs = np.array([w for _, w in meter_mix], dtype=float)
    probs /= probs.sum()
    scada: list[SensorSite] = []
    meters: list[tuple[Any, str]] = []
    for s in model.sensors:
        kind = KINDS.get(s.kind)
        if kind is None:
            continue
        zone = s.code.split("-")[1]
        if kind == "meter":
            node = _supply_node(wn, model, s)
            if node is not None and (max_meters is None or len(meters) < max_meters):
                meters.append((s, node))
            continue
        element = s.link if kind == "flow" else s.node
        if element is None:
            continue
        batched = bool(rng.random() < batch_fraction)
        scada.append(
            SensorSite(
                code=s.code,
                kind=kind,
                element=str(element),
                zone=zone,
                transport="mqtt-batch" if batched else "mqtt",
                gateway=f"GW-{zone}" if batched else None,
            )
        )
    per_node = Counter(node for _, node in meters)
    out = list(scada)
    for s, node in meters:
        transport = str(kinds[int(rng.choice(len(kinds), p=probs))])
        number = int(s.code[-6:])
        models = METER_MODELS[transport]
        out.append(
            SensorSite(
                code=s.code,
                kind="meter",
                element=node,
                zone=s.code.split("-")[1],
                transport=transport,
                share=1.0 / per_node[node],
                model=models[number % len(models)],
                extra={"account": s.attrs.get("account", "")},
                **meter_identity(number),
            )
        )
    return out, junction_classes(model, wn)


def junction_classes(model: Any, wn: Any) -> dict[str, str]:
    """The commonest customer class at each demand junction (critical ones as 'critical')."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for c in model.customers:
        node = c.node
        if node is None and c.link is not None:
            link = model.link(c.link)
            node = max([link.start, link.end], key=lambda n: _base_demand(wn, n))
        if node is None:
            continue
        cls = "critical" if c.customer_class in CRITICAL else c.customer_class
        votes[node][
            cls if cls in ("residential", "commercial", "industrial", "critical") else "residential"
        ] += 1
    return {
        node: v.most_common(1)[0][0] for node, v in votes.items() if node in wn.junction_name_list
    }
