"""Sensor sites: where the simulated sensors sit on the network and how they report.

A site list is plain data (``SensorSite``), so that it can come from the demo city's sensor
sites (``sites_from_demo_city``) or be picked on any WNTR network (``sites_from_network``).
It is written to JSON next to the readings so that a test can register the same sensors in
the ingest registry.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import wntr

KIND_PREFIX = {"pressure": "PT", "flow": "FT", "level": "LT", "meter": "MT"}
# canonical units of the sensor catalogue (sensors/kinds.json)
KIND_UNIT = {"pressure": "m", "flow": "L/s", "level": "m", "meter": "m3"}
# meter model (sensors/meter_models.json) per meter transport; raw meters alternate DI orders
METER_MODELS = {
    "ctwing": ("waternet-wn1",),
    "onenet": ("waternet-wn1",),
    "mqtt-raw": ("cjt188-2004", "cjt188-2018"),
}
# Transports: MQTT single readings, MQTT through a gateway batch, CJ/T 188 frames on the raw
# topic, NB-IoT day frames pushed by the CTWing or OneNET platform.
TRANSPORTS = ("mqtt", "mqtt-batch", "mqtt-raw", "ctwing", "onenet")


@dataclass(frozen=True, slots=True)
class SensorSite:
    """One sensor. ``element`` is a node id (pressure, level, meter) or a link id (flow)."""

    code: str
    kind: str
    element: str
    zone: str
    transport: str = "mqtt"
    unit: str = ""
    gateway: str | None = None
    share: float = 1.0  # meters: share of the junction's consumer demand
    imei: str = ""
    address: str = ""  # CJ/T 188 meter address, 14 decimal digits
    device_id: str = ""
    model: str = ""  # meter model id in the sensor catalogue
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.unit:
            object.__setattr__(self, "unit", KIND_UNIT.get(self.kind, ""))


def stable_rng(seed: int, stream: str) -> np.random.Generator:
    """A generator for one named purpose, independent of the order other purposes draw."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(stream.encode())])


def sensor_code(kind: str, zone: str, number: int) -> str:
    return f"{KIND_PREFIX[kind]}-{zone}-{number:06d}"


def meter_identity(number: int) -> dict[str, str]:
    """Deterministic IMEI (15 digits), CJ/T 188 address (14 digits) and platform device id."""
    return {
        "imei": f"86{number:013d}",
        "address": f"{number:014d}",
        "device_id": f"wn{number:010d}",
    }


def zones_for_nodes(
    wn: wntr.network.WaterNetworkModel, *, n_zones: int | None = None
) -> dict[str, str]:
    """Cheap deterministic zoning for networks without DMAs: bands of x coordinate."""
    names = list(wn.node_name_list)
    if n_zones is None:
        n_zones = max(1, min(20, len(wn.junction_name_list) // 40))
    xs = np.array([float(wn.get_node(n).coordinates[0]) for n in names])
    order = np.argsort(xs, kind="stable")
    zone_of: dict[str, str] = {}
    for rank, idx in enumerate(order):
        z = min(n_zones - 1, rank * n_zones // len(names))
        zone_of[names[idx]] = f"D{z + 1:02d}"
    return zone_of


def _demand(junction: Any) -> float:
    return float(sum(d.base_value for d in junction.demand_timeseries_list))


def sites_from_network(
    wn: wntr.network.WaterNetworkModel,
    *,
    seed: int,
    n_pressure: int | None = None,
    n_meters: int | None = None,
    batch_fraction: float = 0.5,
    meter_mix: Sequence[tuple[str, float]] = (("ctwing", 0.4), ("onenet", 0.3), ("mqtt-raw", 0.3)),
    zone_of: dict[str, str] | None = None,
) -> list[SensorSite]:
    """Pick sensor sites on any network, deterministically for ``seed``.

    Pressure sensors on a spread of junctions; flow sensors on every pump and on every pipe
    leaving a reservoir or tank (the sources); a level sensor per tank; meters on demand
    junctions in proportion to base demand, each with a share of its junction's demand.
    Half of the pressure/flow/level sensors (``batch_fraction``) report through their zone's
    gateway ``GW-<ZONE>``.
    """
    rng = stable_rng(seed, "sites")
    zone_of = zone_of or zones_for_nodes(wn)
    junctions = sorted(wn.junction_name_list)
    if n_pressure is None:
        n_pressure = max(3, min(60, len(junctions) // 5))
    n_pressure = min(n_pressure, len(junctions))
    picked = sorted(rng.choice(len(junctions), size=n_pressure, replace=False).tolist())
    counters: dict[str, int] = {}

    def next_code(kind: str, zone: str) -> str:
        counters[kind] = counters.get(kind, 0) + 1
        return sensor_code(kind, zone, counters[kind])

    scada: list[SensorSite] = []
    for i in picked:
        node = junctions[i]
        scada.append(
            SensorSite(
                code=next_code("pressure", zone_of[node]),
                kind="pressure",
                element=node,
                zone=zone_of[node],
            )
        )
    sources = set(wn.reservoir_name_list) | set(wn.tank_name_list)
    flow_links = sorted(
        name
        for name, link in wn.links()
        if link.link_type == "Pump"
        or (
            link.link_type == "Pipe"
            and (link.start_node_name in sources or link.end_node_name in sources)
        )
    )
    for link_name in flow_links:
        zone = zone_of[wn.get_link(link_name).start_node_name]
        scada.append(
            SensorSite(code=next_code("flow", zone), kind="flow", element=link_name, zone=zone)
        )
    for tank in sorted(wn.tank_name_list):
        scada.append(
            SensorSite(
                code=next_code("level", zone_of[tank]),
                kind="level",
                element=tank,
                zone=zone_of[tank],
            )
        )
    batched = rng.random(len(scada)) < batch_fraction
    sites = [
        replace(s, transport="mqtt-batch", gateway=f"GW-{s.zone}") if b else s
        for s, b in zip(scada, batched, strict=True)
    ]
    sites.extend(
        _meters(
            wn,
            junctions,
            rng=rng,
            n_meters=n_meters,
            meter_mix=meter_mix,
            zone_of=zone_of,
            next_code=next_code,
        )
    )
    return sites


def _meters(
    wn: wntr.network.WaterNetworkModel,
    junctions: list[str],
    *,
    rng: np.random.Generator,
    n_meters: int | None,
    meter_mix: Sequence[tuple[str, float]],
    zone_of: dict[str, str],
    next_code: Any,
) -> list[SensorSite]:
    demands = np.array([max(0.0, _demand(wn.get_node(j))) for j in junctions])
    with_demand = np.flatnonzero(demands > 0)
    if n_meters is None:
        n_meters = min(200, 2 * len(with_demand))
    if n_meters <= 0 or len(with_demand) == 0:
        return []
    weights = demands[with_demand] / demands[with_demand].sum()
    # every demand junction with at least one meter when there are enough meters
    counts = np.zeros(len(with_demand), dtype=int)
    if n_meters >= len(with_demand):
        counts += 1
    rest = n_meters - int(counts.sum())
    if rest > 0:
        counts += rng.multinomial(rest, weights)
    kinds = [k for k, _ in meter_mix]
    probs = np.array([w for _, w in meter_mix], dtype=float)
    probs = probs / probs.sum()
    meters: list[SensorSite] = []
    for jdx, count in zip(with_demand, counts, strict=True):
        node = junctions[int(jdx)]
        shares = rng.dirichlet(np.full(int(count), 4.0)) if count > 1 else np.ones(1)
        for share in shares[: int(count)]:
            transport = str(kinds[int(rng.choice(len(kinds), p=probs))])
            code = next_code("meter", zone_of[node])
            number = int(code.rsplit("-", 1)[1])
            ids: dict[str, Any] = meter_identity(number)
            models = METER_MODELS[transport]
            meters.append(
                SensorSite(
                    code=code,
                    kind="meter",
                    element=node,
                    zone=zone_of[node],
                    transport=transport,
                    share=float(share),
                    model=models[number % len(models)],
                    **ids,
                )
            )
    return meters


def sites_from_records(records: Iterable[dict[str, Any]]) -> list[SensorSite]:
    """Sites from plain dicts (the demo city's sensor-site layer, or a sites JSON file).

    Required keys: ``code``, ``kind`` and ``element`` (or ``node``/``link``); the zone defaults
    to the code's middle part, meter identities to ones derived from the code's number.
    """
    sites = []
    for r in records:
        code = str(r["code"])
        kind = str(r["kind"])
        element = str(r.get("element") or r.get("node") or r.get("link"))
        zone = str(r.get("zone") or code.split("-")[1])
        extra_ids: dict[str, Any] = (
            meter_identity(int(code.rsplit("-", 1)[1])) if kind == "meter" else {}
        )
        keys = ("transport", "unit", "gateway", "share", "imei", "address", "device_id", "model")
        known: dict[str, Any] = {k: r[k] for k in keys if r.get(k) not in (None, "")}
        sites.append(
            SensorSite(code=code, kind=kind, element=element, zone=zone, **{**extra_ids, **known})
        )
    return sites


def write_sites(path: str | Path, sites: Sequence[SensorSite]) -> None:
    Path(path).write_text(json.dumps([asdict(s) for s in sites], indent=1) + "\n")


def read_sites(path: str | Path) -> list[SensorSite]:
    return [SensorSite(**r) for r in json.loads(Path(path).read_text())]
