"""The fleet's message stream: a pure, deterministic function of a scenario and a seed.

``iter_messages(result, config)`` yields ``Message`` objects in send order: pressure, flow and
level sensors every ``interval_s`` on ``waternet/v1/telemetry/{code}`` (single) or through
their zone gateway on ``waternet/v1/batch/{gateway}``; CJ/T 188 meters every
``raw_interval_s`` on ``waternet/v1/raw/{code}``; NB-IoT meters once a day, staggered over
``push_window_s``, with a WN1 frame of the day's interval registers in a CTWing or OneNET push.
Faults (``simulators.faults``) are injected as planned and every message carries the outcome
ingest is expected to give each of its readings. No I/O: publishers send the stream.
"""

from __future__ import annotations

import json
import string
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from simulators import messages as m
from simulators.faults import (
    FaultPlan,
    IngestModel,
    expected_outcomes,
    message_faults,
    reading_faults,
    totals,
)
from simulators.hydraulics import ScenarioResult
from simulators.sites import SensorSite, stable_rng

SCADA = ("pressure", "flow", "level")


@dataclass
class FleetConfig:
    interval_s: int = 60  # pressure / flow / level reporting interval
    raw_interval_s: int = 3600  # CJ/T 188 meters on MQTT
    meter_interval_min: int = 15  # NB-IoT registers in the day frame (model waternet-wn1)
    push_window_s: int = 86400  # NB-IoT pushes spread over this window after each day
    gateway_delay_s: float = 2.0  # a gateway sends its batch this long after the minute
    ts_format: str = "mixed"  # "iso", "ms", or mixed (by sensor number)
    onenet_token: str = "waternet-sim-token"
    topic_prefix: str = ""  # prepended to every topic (test isolation only)
    meter_tz: str = m.DEFAULT_METER_TZ  # CJ/T 188 meter clocks: local time of the utility
    faults: FaultPlan = field(default_factory=FaultPlan)
    ingest: IngestModel = field(default_factory=IngestModel)
    seed: int = 0


@dataclass
class Stream:
    messages: list[m.Message]
    faults: list[dict[str, Any]]
    unknown_codes: list[str]
    generated: int  # readings the sensors produced (before dropouts)

    def truth(self) -> dict[str, Any]:
        """The fleet part of the ground truth: messages, readings, faults, expected totals."""
        by_kind = Counter(msg.kind for msg in self.messages)
        fault_counts = Counter(f["type"] for f in self.faults)
        return {
            "messages": {"total": len(self.messages), "by_kind": dict(sorted(by_kind.items()))},
            "readings": {
                "generated": self.generated,
                "dropped": fault_counts.get("dropout", 0),
                # readings inside the messages sent (duplicate copies and unknown sensors
                # included), and those of them in messages ingest cannot read
                "sent": sum(msg.readings for msg in self.messages),
                "in_unreadable_messages": sum(
                    msg.readings
                    for msg in self.messages
                    if msg.expect and msg.expect[0].ts_ms is None
                ),
            },
            "faults": {"counts": dict(sorted(fault_counts.items())), "items": self.faults},
            "unknown_codes": self.unknown_codes,
            "expected": totals([msg.expect for msg in self.messages]),
        }

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """fleet.json (ground truth) and expected.jsonl (one line per message)."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"fleet": out / "fleet.json", "expected": out / "expected.jsonl"}
        paths["fleet"].write_text(json.dumps(self.truth(), indent=1) + "\n")
        with paths["expected"].open("w") as f:
            for msg in self.messages:
                f.write(json.dumps(msg.as_record(), separators=(",", ":")) + "\n")
        return paths


def iter_messages(result: ScenarioResult, config: FleetConfig) -> Iterator[m.Message]:
    """The message stream in send order (deterministic for the scenario and ``config.seed``)."""
    yield from build_stream(result, config).messages


def _uses_iso(site: SensorSite, fmt: str) -> bool:
    return fmt == "iso" or (fmt == "mixed" and int(site.code[-6:]) % 2 == 1)


def build_stream(result: ScenarioResult, config: FleetConfig) -> Stream:
    seed = config.seed
    base_ms = round(result.config.start_epoch * 1000)
    sites = result.sites
    pre = config.topic_prefix
    drafts: list[m.Draft] = []
    # 1. SCADA readings per sensor, then reading-level faults
    every = max(1, round(config.interval_s / result.config.sample_s))
    rows = [i for i in range(len(result.times)) if i % every == 0]
    streams: dict[str, list[m.Reading]] = {}
    for col, s in enumerate(sites):
        if s.kind in SCADA:
            stamps = [base_ms + int(result.times[i]) * 1000 for i in rows]
            streams[s.code] = [
                m.Reading(s.code, ts, m.num(result.measured[i, col]), at_ms=ts)
                for i, ts in zip(rows, stamps, strict=True)
            ]
    generated = sum(len(v) for v in streams.values())
    fplan = config.faults
    known = {s.code for s in sites}
    unknown_codes = _unknown_codes(sites, fplan.unknown_sensor, known)
    records = reading_faults(
        streams, fplan, rng=stable_rng(seed, "faults:readings"), unknown_codes=unknown_codes
    )
    # 2. unknown sensors: half alone on the telemetry topic, half inside a gateway batch
    gateways = sorted({s.gateway for s in sites if s.gateway})
    rng_u = stable_rng(seed, "faults:unknown")
    extra_batch: dict[tuple[str, int], list[m.Reading]] = defaultdict(list)
    for k, code in enumerate(unknown_codes):
        at = base_ms + int(result.times[rows[int(rng_u.integers(0, len(rows)))]]) * 1000
        r = m.Reading(
            code,
            at,
            m.num(rng_u.uniform(20, 60)),
            at_ms=at,
            known=False,
            tags=["fault:unknown_sensor"],
        )
        records.append({"type": "unknown_sensor", "sensor": code, "ts": at})
        if k % 2 == 0 or not gateways:
            drafts.append(
                m.Draft(
                    at / 1000 + 1.0,
                    "telemetry",
                    f"{pre}waternet/v1/telemetry/{code}",
                    [r],
                    m.encode_telemetry(ts_ms=at, value=r.value, iso=k % 4 == 0),
                    tags=["fault:unknown_sensor"],
                )
            )
        else:
            extra_batch[(gateways[k % len(gateways)], at)].append(r)
    # 3. SCADA packaging: single messages, gateway batches (with outages)
    rng_j = stable_rng(seed, "jitter")
    by_code = {s.code: s for s in sites}
    batches: dict[tuple[str, int], list[m.Reading]] = defaultdict(list)
    for code in sorted(streams):
        s = by_code[code]
        jitter = float(round(rng_j.uniform(0.0, 5.0), 3))
        iso = _uses_iso(s, config.ts_format)
        for r in streams[code]:
            r_iso = iso
            if s.transport == "mqtt-batch" and s.gateway:
                batches[(s.gateway, r.at_ms)].append(r)
            else:
                drafts.append(
                    m.Draft(
                        r.at_ms / 1000 + jitter,
                        "telemetry",
                        f"{pre}waternet/v1/telemetry/{code}",
                        [r],
                        m.encode_telemetry(ts_ms=r.ts_ms, value=r.value, iso=r_iso),
                        tags=list(r.tags),
                    )
                )
    for key, extra in extra_batch.items():
        batches[key].extend(extra)
    outages = _outages(gateways, fplan, result, seed, base_ms, config.interval_s)
    records.extend(
        {"type": "gateway_offline", "gateway": g, "from_ts": a, "to_ts": b}
        for g, (a, b) in sorted(outages.items())
    )
    flush_rank: Counter[str] = Counter()
    for (gw, at), readings in sorted(batches.items()):
        send = at / 1000 + config.gateway_delay_s
        tags = sorted({t for r in readings for t in r.tags})
        if gw in outages and outages[gw][0] <= at < outages[gw][1]:
            send = outages[gw][1] / 1000 + 0.05 * flush_rank[gw]
            flush_rank[gw] += 1
            tags.append("fault:gateway_offline")
        payload = m.encode_batch(
            [
                (
                    r.code,
                    r.ts_ms,
                    r.value,
                    _uses_iso(by_code[r.code], config.ts_format) if r.code in by_code else True,
                )
                for r in readings
            ]
        )
        drafts.append(
            m.Draft(send, "batch", f"{pre}waternet/v1/batch/{gw}", readings, payload, tags=tags)
        )
    # 4. meters
    meter_drafts = _meter_drafts(result, config, base_ms)
    generated += sum(len(d.readings) for d in meter_drafts)
    drafts.extend(meter_drafts)
    # 5. message-level faults, order, expected outcomes
    for i, d in enumerate(drafts):
        d.order = i
    drafts, msg_records = message_faults(drafts, fplan, rng=stable_rng(seed, "faults:messages"))
    records.extend(msg_records)
    drafts.sort(key=lambda d: (d.send_at, d.order))
    expects = expected_outcomes(drafts, config.ingest)
    msgs = [
        m.Message(
            seq=i,
            send_at=round(d.send_at, 3),
            transport=d.transport,
            kind=d.kind,
            target=d.target,
            payload=d.payload,
            expect=e,
            tags=tuple(d.tags),
            readings=len(d.readings),
        )
        for i, (d, e) in enumerate(zip(drafts, expects, strict=True))
    ]
    return Stream(messages=msgs, faults=records, unknown_codes=unknown_codes, generated=generated)


def _unknown_codes(sites: list[SensorSite], n: int, known: set[str]) -> list[str]:
    zones = sorted({s.zone for s in sites}) or ["X"]
    out: list[str] = []
    k = 999_999
    while len(out) < n:
        code = f"PT-{zones[len(out) % len(zones)]}-{k:06d}"
        if code not in known:
            out.append(code)
        k -= 1
    return out


def _outages(
    gateways: list[str],
    plan: FaultPlan,
    result: ScenarioResult,
    seed: int,
    base_ms: int,
    interval_s: int,
) -> dict[str, tuple[int, int]]:
    """Gateway -> (from_ms, to_ms): offline for ``plan.offline_s`` inside the period."""
    rng = stable_rng(seed, "faults:gateways")
    n = min(plan.gateway_offline, len(gateways))
    chosen = sorted(rng.choice(len(gateways), size=n, replace=False).tolist()) if n else []
    span = max(0, int(result.times[-1]) - plan.offline_s)
    out = {}
    for i in chosen:
        start = int(rng.integers(0, span // interval_s + 1)) * interval_s if span else 0
        out[gateways[i]] = (base_ms + start * 1000, base_ms + (start + plan.offline_s) * 1000)
    return out


def _meter_drafts(result: ScenarioResult, config: FleetConfig, base_ms: int) -> list[m.Draft]:
    drafts: list[m.Draft] = []
    times = result.times
    end = int(times[-1])
    pre = config.topic_prefix
    rng = stable_rng(config.seed, "meters")
    for col, s in enumerate(result.sites):
        if s.kind != "meter":
            continue
        register = result.measured[:, col]
        number = int(s.code[-6:])
        jitter = float(round(rng.uniform(0.0, 30.0), 3))
        offset = float(round(rng.uniform(0.0, max(1, config.push_window_s)), 3))
        nonce = "".join(rng.choice(list(string.ascii_letters + string.digits), size=8))
        if s.transport == "mqtt-raw":
            di = "1F90" if s.model == "cjt188-2018" else "901F"
            for t in range(0, end + 1, config.raw_interval_s):
                vol = float(np.interp(t, times, register))
                ts = base_ms + t * 1000
                frame = m.encode_cjt188(
                    address=s.address,
                    volume_m3=vol,
                    ts_ms=ts,
                    di_order=di,
                    preamble=number % 3 != 0,
                    meter_tz=config.meter_tz,
                )
                drafts.append(
                    m.Draft(
                        ts / 1000 + jitter,
                        "raw",
                        f"{pre}waternet/v1/raw/{s.code}",
                        [m.Reading(s.code, ts, m.cjt188_value(vol), at_ms=ts)],
                        frame,
                    )
                )
        elif s.transport in ("ctwing", "onenet"):
            step = config.meter_interval_min * 60
            for day in range(0, end // 86400 + (1 if end % 86400 else 0)):
                t_regs = [t for t in range(day * 86400, min((day + 1) * 86400, end + 1), step)]
                if not t_regs:
                    continue
                vols = [float(np.interp(t, times, register)) for t in t_regs]
                frame = m.encode_wn1(
                    imei=s.imei,
                    start_s=base_ms // 1000 + t_regs[0],
                    interval_min=config.meter_interval_min,
                    registers_m3=vols,
                    battery_mv=3600 - int(rng.integers(0, 300)),
                    rsrp_dbm=-int(rng.integers(70, 115)),
                    snr_db=int(rng.integers(-5, 25)),
                )
                send = base_ms / 1000 + min((day + 1) * 86400, end) + offset
                wrap = (
                    partial(_ctwing, s, int(send * 1000))
                    if s.transport == "ctwing"
                    else partial(
                        _onenet,
                        s,
                        int(send * 1000),
                        config.onenet_token,
                        f"{nonce}{day}",
                        number % 2 == 1,
                    )
                )
                readings = [
                    m.Reading(
                        s.code, base_ms + t * 1000, m.wn1_litres(v) / 1000, at_ms=base_ms + t * 1000
                    )
                    for t, v in zip(t_regs, vols, strict=True)
                ]
                drafts.append(
                    m.Draft(
                        send,
                        s.transport,
                        s.transport,
                        readings,
                        wrap(frame),
                        frame=frame,
                        wrap=wrap,
                    )
                )
    return drafts


def _ctwing(s: SensorSite, ts_ms: int, frame: bytes) -> bytes:
    return m.ctwing_body(imei=s.imei, device_id=s.device_id, frame=frame, ts_ms=ts_ms)


def _onenet(
    s: SensorSite, ts_ms: int, token: str, nonce: str, new_format: bool, frame: bytes
) -> bytes:
    return m.onenet_body(
        token=token,
        imei=s.imei,
        dev_id=s.device_id,
        frame=frame,
        ts_ms=ts_ms,
        nonce=nonce,
        new_format=new_format,
    )
