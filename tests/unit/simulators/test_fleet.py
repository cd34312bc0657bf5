"""The message stream: formats (decoded with the ingest codecs), determinism, faults, truth."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from simulators.faults import FAULT_TYPES, FaultPlan, IngestModel
from simulators.fleet import FleetConfig, Stream, build_stream, iter_messages
from simulators.hydraulics import ScenarioResult
from simulators.messages import DUPLICATE, QUARANTINED, STORED, Message

from waternet.ingest.codecs import cjt188
from waternet.ingest.formats import onenet, platforms
from waternet.ingest.formats.mqtt import parse_message
from waternet.ingest.validation import SensorSpec, validate
from waternet.sensors.catalogue import default as catalogue

Row = tuple[str | None, int | None, float | None, str, str | None]


UTILITY_TZ = ZoneInfo("Asia/Shanghai")  # WATERNET_TIMEZONE by default


def _ingest_like(
    stream: Stream, result: ScenarioResult, model: IngestModel, token: str
) -> list[list[Row]]:
    """What an ingest worker built on the telemetry codecs would do with each message."""
    specs = {}
    for s in result.sites:
        k = catalogue().kind(s.code[:2])
        specs[s.code] = SensorSpec(code=s.code, kind=k.code, unit=k.unit, min=k.min, max=k.max)
    lookup = {s.imei: s.code for s in result.sites if s.imei}
    seen: set[tuple[str, int]] = set()
    out = []
    for msg in stream.messages:
        now = datetime.fromtimestamp(msg.send_at, UTC)
        if msg.kind == "ctwing":
            res = platforms.parse_ctwing(msg.payload, max_bytes=1 << 20, lookup=lookup)
        elif msg.kind == "onenet":
            res = onenet.parse_onenet(msg.payload, token=token, max_bytes=1 << 20, lookup=lookup)
        else:
            # as the worker does: CJ/T 188 meter clocks read in the utility's zone
            res = parse_message(msg.target, msg.payload, max_bytes=1 << 20, meter_tz=UTILITY_TZ)
        rows: list[Row] = [
            (r.sensor_code, None, None, QUARANTINED, str(r.reason)) for r in res.rejects
        ]
        for r in res.readings:
            ts = round(r.ts.timestamp() * 1000)
            reason = validate(
                r,
                specs.get(r.sensor_code),
                now=now,
                future_margin=timedelta(seconds=model.future_margin_s),
                max_age=timedelta(seconds=model.max_age_s),
            )
            if reason is not None:
                rows.append((r.sensor_code, ts, r.value, QUARANTINED, str(reason)))
            elif (r.sensor_code, ts) in seen:
                rows.append((r.sensor_code, ts, r.value, DUPLICATE, None))
            else:
                seen.add((r.sensor_code, ts))
                rows.append((r.sensor_code, ts, r.value, STORED, None))
        out.append(rows)
    return out


def _expected(msg: Message) -> list[Row]:
    return [(e.code, e.ts_ms, e.value, e.outcome, e.reason) for e in msg.expect]


def test_every_message_decodes_to_its_expected_outcome(
    net3_stream: Stream, net3_burst: ScenarioResult
) -> None:
    cfg = FleetConfig()
    actual = _ingest_like(net3_stream, net3_burst, cfg.ingest, cfg.onenet_token)
    mismatches = [
        (msg.seq, msg.kind, sorted(map(str, got)), sorted(map(str, _expected(msg))))
        for msg, got in zip(net3_stream.messages, actual, strict=True)
        if sorted(map(str, got)) != sorted(map(str, _expected(msg)))
    ]
    assert not mismatches[:5]
    kinds = Counter(msg.kind for msg in net3_stream.messages)
    assert set(kinds) == {"telemetry", "batch", "raw", "ctwing", "onenet"}


def test_same_seed_same_bytes(net3_burst: ScenarioResult) -> None:
    def fingerprint(seed: int) -> list[tuple[float, str, bytes]]:
        cfg = FleetConfig(seed=seed, faults=FaultPlan.every(2), push_window_s=600)
        return [(m.send_at, m.target, m.payload) for m in iter_messages(net3_burst, cfg)]

    a, b = fingerprint(5), fingerprint(5)
    assert a == b
    assert fingerprint(6) != a


def test_every_fault_type_is_injected_and_counted(net3_stream: Stream) -> None:
    truth = net3_stream.truth()
    counts = truth["faults"]["counts"]
    plan = FaultPlan.every(2)
    assert set(counts) == set(FAULT_TYPES)
    for ftype in FAULT_TYPES:
        assert counts[ftype] == getattr(plan, ftype), ftype
    exp = truth["expected"]
    reasons = exp["quarantined_by_reason"]
    for reason in (
        "malformed_json",
        "bad_checksum",
        "bad_crc",
        "unknown_sensor",
        "future_timestamp",
        "too_old",
    ):
        assert reasons.get(reason, 0) > 0, reason
    assert exp["duplicate"] > 0
    n_expect = sum(len(m.expect) for m in net3_stream.messages)
    assert exp["stored"] + exp["quarantined"] + exp["duplicate"] == n_expect
    readings = truth["readings"]
    assert (
        readings["generated"]
        - readings["dropped"]
        + len(truth["unknown_codes"])
        + sum(m.readings for m in net3_stream.messages if "fault:duplicate" in m.tags)
        == readings["sent"]
    )


def test_reading_faults_change_what_is_sent(net3_stream: Stream) -> None:
    items = net3_stream.truth()["faults"]["items"]
    sent: dict[str, list[tuple[int, float]]] = {}
    for m in net3_stream.messages:
        for e in m.expect:
            if e.code and e.ts_ms is not None and e.value is not None:
                sent.setdefault(e.code, []).append((e.ts_ms, e.value))
    for f in items:
        if f["type"] in ("stuck", "flatline"):
            values = {v for ts, v in sent[f["sensor"]] if f["from_ts"] <= ts < f["to_ts"]}
            assert values == {f["value"]}, f
        if f["type"] == "dropout":
            assert (f["ts"], f["value"]) not in sent.get(f["sensor"], [])
        if f["type"] == "clock_skew":
            skew = round(f["skew_s"] * 1000)
            moved = [
                ts for ts, _ in sent[f["sensor"]] if f["from_ts"] + skew <= ts < f["to_ts"] + skew
            ]
            assert len(moved) >= f["readings"]


def test_gateway_outage_flushes_its_backlog(net3_stream: Stream) -> None:
    outage = next(f for f in net3_stream.faults if f["type"] == "gateway_offline")
    held = [
        m
        for m in net3_stream.messages
        if m.target.endswith("/" + outage["gateway"]) and "fault:gateway_offline" in m.tags
    ]
    assert len(held) == 60  # an hour of one-minute batches
    assert all(m.send_at >= outage["to_ts"] / 1000 for m in held)
    assert all(outage["from_ts"] <= m.expect[0].ts_ms < outage["to_ts"] for m in held)
    stamps = [m.expect[0].ts_ms or 0 for m in held]
    assert stamps == sorted(stamps)  # flushed in order


def test_out_of_order_and_duplicates(net3_stream: Stream) -> None:
    late = [m for m in net3_stream.messages if "fault:out_of_order" in m.tags]
    assert late
    for m in late:
        ts = min(e.ts_ms for e in m.expect if e.ts_ms is not None)
        earlier_but_newer = [
            o
            for o in net3_stream.messages[: m.seq]
            if o.target == m.target and any(e.ts_ms and e.ts_ms > ts for e in o.expect)
        ]
        assert earlier_but_newer
    dups = [m for m in net3_stream.messages if "fault:duplicate" in m.tags]
    assert dups
    for d in dups:
        original = [m for m in net3_stream.messages[: d.seq] if m.payload == d.payload]
        assert original and all(e.outcome == DUPLICATE for e in d.expect)


def test_stream_files(net3_stream: Stream, tmp_path: Path) -> None:
    paths = net3_stream.write(tmp_path)
    truth = json.loads(paths["fleet"].read_text())
    lines = paths["expected"].read_text().splitlines()
    assert len(lines) == truth["messages"]["total"] == len(net3_stream.messages)
    first = json.loads(lines[0])
    assert set(first) >= {"seq", "send_at", "transport", "kind", "target", "expect", "tags"}
    stored = sum(1 for line in lines for e in json.loads(line)["expect"] if e["outcome"] == STORED)
    assert stored == truth["expected"]["stored"]


def test_send_order_and_topics(net3_stream: Stream) -> None:
    times = [m.send_at for m in net3_stream.messages]
    assert times == sorted(times)
    assert [m.seq for m in net3_stream.messages] == list(range(len(times)))
    for m in net3_stream.messages:
        if m.transport == "mqtt":
            assert m.target.startswith("waternet/v1/") and m.qos == 1
        else:
            assert m.target in ("ctwing", "onenet")


@pytest.mark.parametrize("fmt", ["iso", "ms"])
def test_timestamp_formats(net3_burst: ScenarioResult, fmt: str) -> None:
    stream = build_stream(net3_burst, FleetConfig(ts_format=fmt))
    msg = next(m for m in stream.messages if m.kind == "telemetry")
    ts = json.loads(msg.payload)["ts"]
    assert isinstance(ts, str if fmt == "iso" else int)


def test_cjt188_meter_clock_is_local_wall_time(net3_burst: ScenarioResult) -> None:
    """CJ/T 188 meters keep local time without a zone: the clock in each simulated frame is
    the wall-clock time of the utility's zone when the meter read (it sends up to 30 s later),
    not UTC."""
    stream = build_stream(net3_burst, FleetConfig(seed=3))
    raw = [msg for msg in stream.messages if msg.kind == "raw"]
    assert raw
    for msg in raw:
        clock = cjt188.decode(msg.payload).meter_time
        assert clock is not None
        sent = datetime.fromtimestamp(msg.send_at, UTC).astimezone(UTILITY_TZ)
        assert 0 <= (sent.replace(tzinfo=None) - clock).total_seconds() <= 31, (sent, clock)
