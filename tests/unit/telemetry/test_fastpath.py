"""The fast path gives exactly what the general path gives, on generated MQTT messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from waternet.ingest import fastpath
from waternet.ingest.pipeline import Incoming, Policy, process
from waternet.ingest.registry import Registry
from waternet.ingest.validation import SensorSpec

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
POLICY = Policy(max_payload=4096)


def _spec(code: str, kind: str, lo: float, hi: float, status: str = "active") -> SensorSpec:
    return SensorSpec(code=code, kind=kind, unit="m", min=lo, max=hi, status=status)


SPECS = {
    "PT-D01-000001": _spec("PT-D01-000001", "PT", -10, 100),
    "PT-D01-000002": _spec("PT-D01-000002", "PT", -10, 100, "maintenance"),
    "PT-D01-000003": _spec("PT-D01-000003", "PT", -10, 100, "disabled"),
    "FT-D01-000004": _spec("FT-D01-000004", "PT", -10, 100),  # kind does not match the code
    "PS-X-000005": _spec("PS-X-000005", "PS", 0, 1),
    "LT-D02-000006": _spec("LT-D02-000006", "LT", float("-inf"), float("inf")),
}
REGISTRY = Registry(by_code={c: (i + 1, s) for i, (c, s) in enumerate(SPECS.items())})
CODES = [*SPECS, "PT-D01-999999", "pt-bad", "XX-D01-000001", ""]

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**60), 2**60),
    st.sampled_from([0, 1, 0.5, 1.0, -10, 100, 100.0001, True, False, None, "3.5", [1]]),
)
stamps = st.one_of(
    st.integers(NOW_MS - 40 * 86_400_000, NOW_MS + 600_000),
    st.sampled_from([NOW_MS, NOW_MS + 300_000, NOW_MS + 300_001, -1, 2**63, True, None]),
    st.floats(NOW_MS - 1e6, NOW_MS + 1e6),
    st.just("2026-12-02T15:59:00+08:00"),
    st.just("2026-12-02T07:59:00"),
)
qualities = st.one_of(st.integers(-2, 40_000), st.sampled_from([True, "0", 1.0]))


@st.composite
def reading(draw: Any, with_code: bool) -> dict[str, Any]:
    """Mostly well-formed readings near the edges of validity, some with one field broken."""
    obj: dict[str, Any] = {
        "ts": draw(st.integers(NOW_MS - 35 * 86_400_000 - 5, NOW_MS + 300_005)),
        "v": draw(st.one_of(st.floats(-11, 101), st.sampled_from([0, 1, 0.5, -10, 100]))),
    }
    if with_code:
        obj["s"] = draw(st.sampled_from(CODES[:7]))
    if draw(st.booleans()):
        obj["q"] = draw(st.integers(0, 3))
    field = draw(st.sampled_from(["none", "none", "ts", "v", "q", "s", "u", "drop"]))
    if field == "ts":
        obj["ts"] = draw(stamps)
    elif field == "v":
        obj["v"] = draw(values)
    elif field == "q":
        obj["q"] = draw(qualities)
    elif field == "s" and with_code:
        obj["s"] = draw(st.sampled_from(CODES))
    elif field == "u":
        obj["u"] = draw(st.sampled_from(["m", "bar", "", 3]))
    elif field == "drop":
        del obj[draw(st.sampled_from(sorted(obj)))]
    return obj


# JSON that decoders disagree on or refuse: the fast path must decline, or agree
TRICKY = [
    b'{"ts": NOW, "v": 1, "v": 2}',
    b'{"ts": NOW, "v": NaN}',
    b'{"ts": NOW, "v": 1e400}',
    b'{"ts": NOW, "v": 123456789012345678901234567890}',
    b'{"ts": NOW, "v": -0}',
    b'{"ts": NOW, "v": 2.5, "q": 18446744073709551616}',
    b'{"ts": NOW.0, "v": 2.5}',
    b'{"ts": NOW, "v": 2.5}\xff',
    b'\xef\xbb\xbf{"ts": NOW, "v": 2.5}',
    b'{"ts": NOW, "v": 2.5, "q": 1}  ',
    b"[" * 5000 + b"]" * 5000,
]


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def message(draw: Any) -> Incoming:
    kind = draw(st.sampled_from(["single", "batch", "batch", "other"]))
    if kind == "single":
        topic = "waternet/v1/telemetry/" + draw(st.sampled_from(CODES[:7] * 3 + CODES))
        payload = _dump(draw(reading(False)))
        if not draw(st.integers(0, 15)):
            payload = payload[: draw(st.integers(0, len(payload)))]
        elif not draw(st.integers(0, 6)):
            payload = draw(st.sampled_from(TRICKY)).replace(b"NOW", str(NOW_MS).encode())
    elif kind == "batch":
        gw = draw(st.sampled_from(["GW-1", "gw.2:x", "GW-1", "bad/gw", "", "g" * 65]))
        topic = "waternet/v1/batch/" + gw
        items = draw(st.lists(reading(True), max_size=4))
        doc: Any = {"readings": items}
        if not draw(st.integers(0, 10)):
            doc = draw(st.sampled_from([items, {"readings": "x"}, {"r": items}, None]))
        payload = _dump(doc)
        if not draw(st.integers(0, 20)):
            payload = payload + b" " * 5000  # oversized
    else:
        topic = draw(st.sampled_from(["waternet/v1/raw/PT-D01-000001", "waternet/v2/x/y", "a/b"]))
        payload = draw(st.binary(max_size=40))
    return Incoming("mqtt", topic, payload, NOW, None)


def _key(batch: Any) -> tuple[Any, ...]:
    quarantine = [(q.reason, q.sensor_code, q.detail, q.fingerprint) for q in batch.quarantine]
    return batch.rows, quarantine, batch.messages


@settings(max_examples=400, deadline=None)
@given(st.lists(message(), min_size=1, max_size=8))
def test_fast_path_equals_general_path(messages: list[Incoming]) -> None:
    fast = process(messages, registry=REGISTRY, policy=POLICY, now=NOW, fast=True)
    slow = process(messages, registry=REGISTRY, policy=POLICY, now=NOW, fast=False)
    assert _key(fast) == _key(slow)


def test_fast_path_takes_the_common_case_and_declines_the_rest() -> None:
    table = REGISTRY.fast
    lo, hi = NOW - POLICY.max_age, NOW + POLICY.future_margin

    def rows(topic: str, doc: Any) -> Any:
        return fastpath.rows(topic, _dump(doc), table, lo=lo, hi=hi, max_payload=4096)

    good = {"s": "PT-D01-000001", "ts": NOW_MS, "v": 3.5, "q": 0}
    assert rows(
        "waternet/v1/batch/GW-1", {"readings": [good, {**good, "s": "PS-X-000005", "v": 1}]}
    ) == [
        (1, NOW, 3.5, 0),
        (5, NOW, 1.0, 0),
    ]
    assert rows("waternet/v1/telemetry/PT-D01-000002", {"ts": NOW_MS, "v": 2}) == [(2, NOW, 2.0, 0)]
    for bad in (
        {**good, "s": "PT-D01-000003"},  # disabled
        {**good, "s": "FT-D01-000004"},  # kind mismatch
        {**good, "v": 100.5},  # out of range
        {**good, "s": "PS-X-000005", "v": 0.5},  # pump status not 0/1
        {**good, "ts": NOW_MS + 300_001},  # beyond the future margin
        {**good, "ts": "2026-12-02T08:00:00+00:00"},  # ISO-8601: the general path
        {**good, "u": "m"},  # a unit: the general path converts
    ):
        assert rows("waternet/v1/batch/GW-1", {"readings": [good, bad]}) is None
    assert table.entries.keys() == {
        "PT-D01-000001",
        "PT-D01-000002",
        "PS-X-000005",
        "LT-D02-000006",
    }
    assert timedelta(0) < hi - NOW


def test_a_fast_path_failure_falls_back_to_the_general_path(monkeypatch: Any) -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("a bug")

    msg = Incoming(
        "mqtt", "waternet/v1/telemetry/PT-D01-000001", _dump({"ts": NOW_MS, "v": 2}), NOW, None
    )
    monkeypatch.setattr(fastpath, "rows", broken)
    batch = process([msg], registry=REGISTRY, policy=POLICY, now=NOW)
    assert batch.rows == [(1, NOW, 2.0, 0)] and batch.quarantine == []
