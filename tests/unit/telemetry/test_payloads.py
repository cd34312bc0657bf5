import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.telemetry.vectors import CJT_A, CJT_B, WN_1, WN_2, hx
from waternet.ingest.codecs import cjt188
from waternet.ingest.formats.mqtt import RAW_CAP, Reason, parse_message

T = "waternet/v1/telemetry/PT-D03-000123"
MAX = 65536


def _one(topic: str, payload: bytes, **kw):  # type: ignore[no-untyped-def]
    return parse_message(topic, payload, max_bytes=kw.pop("max_bytes", MAX), **kw)


def test_single_iso_and_epoch_ms() -> None:
    r = _one(T, b'{"ts": "2024-03-15T08:30:00+08:00", "v": 31.5}')
    assert not r.rejects
    (reading,) = r.readings
    assert reading.sensor_code == "PT-D03-000123" and reading.value == 31.5
    assert reading.ts == datetime(2024, 3, 15, 0, 30, tzinfo=UTC) and reading.quality == 0
    r = _one(T, b'{"ts": 1710462600000, "v": 3, "q": 2, "u": "bar"}')
    assert r.readings[0].ts == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
    assert (r.readings[0].quality, r.readings[0].unit, r.readings[0].value) == (2, "bar", 3.0)
    assert r.readings[0].ts.tzinfo is UTC
    assert _one(T, b'{"ts": "2024-03-15T00:30:00Z", "v": 1}').readings


def _reason(topic: str, payload: bytes, **kw) -> str:  # type: ignore[no-untyped-def]
    r = _one(topic, payload, **kw)
    assert not r.readings and len(r.rejects) == 1
    return r.rejects[0].reason


def test_reason_codes() -> None:
    assert _reason(T, b'{"ts": 1, "v": 1}' + b" " * 100, max_bytes=50) == Reason.OVERSIZED
    assert _reason("other/v1/telemetry/PT-D03-000123", b"{}") == Reason.BAD_TOPIC
    assert _reason("waternet/v1/nope/PT-D03-000123", b"{}") == Reason.BAD_TOPIC
    assert _reason("waternet/v1/telemetry/PT-D03-000123/x", b"{}") == Reason.BAD_TOPIC
    assert _reason("waternet/v1/telemetry/ZZ-D03-000123", b"{}") == Reason.BAD_SENSOR_CODE
    assert _reason(T, b'{"ts": 1, "v": ') == Reason.MALFORMED_JSON
    assert _reason(T, b"\xff\xfe\x00") == Reason.MALFORMED_JSON
    assert _reason(T, b"[1, 2]") == Reason.BAD_SCHEMA
    assert _reason(T, b'{"ts": 1}') == Reason.BAD_SCHEMA
    assert _reason(T, b'{"ts": 1, "v": "3"}') == Reason.BAD_VALUE
    assert _reason(T, b'{"ts": 1, "v": true}') == Reason.BAD_VALUE
    assert _reason(T, b'{"ts": 1, "v": NaN}') == Reason.NAN
    assert _reason(T, b'{"ts": 1, "v": -Infinity}') == Reason.NAN
    assert _reason(T, b'{"ts": 1, "v": 1e999}') == Reason.NAN
    assert _reason(T, b'{"ts": "2024-03-15T08:30:00", "v": 1}') == Reason.BAD_TIMESTAMP
    assert _reason(T, b'{"ts": "yesterday", "v": 1}') == Reason.BAD_TIMESTAMP
    assert _reason(T, b'{"ts": -5, "v": 1}') == Reason.BAD_TIMESTAMP
    assert _reason(T, b'{"v": 1}') == Reason.BAD_TIMESTAMP
    assert _reason(T, b'{"ts": 1, "v": 1, "q": -1}') == Reason.BAD_QUALITY
    assert _reason(T, b'{"ts": 1, "v": 1, "q": 1.5}') == Reason.BAD_QUALITY
    assert _reason("waternet/v1/raw/MT-D03-000001", b"xyz") == Reason.UNKNOWN_FRAME
    assert _reason("waternet/v1/batch/gw 1", b"{}") == Reason.BAD_TOPIC
    assert _reason("waternet/v1/batch/gw1", b'{"readings": 3}') == Reason.BAD_SCHEMA
    deep = b"[" * 100000 + b"]" * 100000
    assert _reason(T, deep, max_bytes=10**6) == Reason.MALFORMED_JSON


def test_raw_is_capped() -> None:
    r = _one(T, b"x" * 5000)
    assert r.rejects[0].reason == Reason.MALFORMED_JSON and len(r.rejects[0].raw) == RAW_CAP
    assert r.rejects[0].sensor_code == "PT-D03-000123" and r.rejects[0].source == "mqtt/telemetry"


def test_batch_rejects_only_the_bad_reading() -> None:
    items = [
        {"s": "PT-D03-000123", "ts": 1710462600000, "v": 31.5},
        {"s": "bogus", "ts": 1710462600000, "v": 1},
        {"s": "FT-D03-000001", "ts": "2024-03-15T00:30:00+00:00", "v": 12.5, "q": 1},
        {"s": "FT-D03-000001", "ts": "bad", "v": 1},
        "not an object",
        {"s": "LT-X-000002", "ts": 1710462600000, "v": float("nan")},
    ]
    r = _one("waternet/v1/batch/gw-01", json.dumps({"readings": items}).encode())
    assert [x.sensor_code for x in r.readings] == ["PT-D03-000123", "FT-D03-000001"]
    assert all(x.source == "mqtt/batch/gw-01" for x in r.readings)
    assert [(j.index, j.reason) for j in r.rejects] == [
        (1, Reason.BAD_SENSOR_CODE),
        (3, Reason.BAD_TIMESTAMP),
        (4, Reason.BAD_SENSOR_CODE),
        (5, Reason.NAN),
    ]
    assert r.rejects[1].sensor_code == "FT-D03-000001" and r.rejects[0].sensor_code is None
    assert b'"bad"' in r.rejects[1].raw


def test_raw_cjt188_frame() -> None:
    r = _one("waternet/v1/raw/MT-D03-000007", hx(CJT_A), meter_tz=timezone(timedelta(hours=8)))
    (reading,) = r.readings
    assert reading.value == 1234.56 and reading.unit == "m3" and reading.source == "mqtt/raw"
    assert reading.ts == datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
    assert r.events[0].kind == "status" and r.events[0].data["valve"] == "open"


def test_raw_frame_without_clock_uses_receive_time() -> None:
    got = datetime(2024, 5, 1, tzinfo=UTC)
    assert _one("waternet/v1/raw/MT-D03-000007", hx(CJT_B), received_at=got).readings[0].ts == got
    assert _reason("waternet/v1/raw/MT-D03-000007", hx(CJT_B)) == Reason.MISSING_TIMESTAMP


def test_raw_frame_errors_carry_decoder_reason() -> None:
    bad = bytearray(hx(CJT_A))
    bad[-2] ^= 0xFF
    assert _reason("waternet/v1/raw/MT-D03-000007", bytes(bad)) == "bad_checksum"
    no_volume = cjt188.encode_read_reply(address="1", volume_m3=0).replace(
        bytes([0x00, 0x00, 0x00, 0x00, 0x2C]), b"\xff" * 5, 1
    )
    no_volume = no_volume[:-2] + bytes([sum(no_volume[4:-2]) & 0xFF, 0x16])
    assert _reason("waternet/v1/raw/MT-D03-000007", no_volume) == Reason.MISSING_VALUE


def test_raw_wnframe() -> None:
    r = _one("waternet/v1/raw/MT-D03-000008", hx(WN_1))
    assert [x.value for x in r.readings] == [1234.5, 1234.52, 1234.6, 1234.6]
    assert r.events[0].kind == "health" and r.events[0].data["alarms"] == ["low_battery"]
    assert len(_one("waternet/v1/raw/MT-D03-000008", hx(WN_2)).readings) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
readingish = st.fixed_dictionaries(
    {},
    optional={
        "s": st.sampled_from(["PT-D03-000123", "FT-X-000001", "bad"]) | st.text(),
        "ts": st.integers(-10, 2**53) | st.text(max_size=30) | json_values,
        "v": json_values,
        "q": json_values,
        "u": json_values,
    },
)
topics = st.sampled_from([T, "waternet/v1/batch/gw1", "waternet/v1/raw/MT-D03-000001"]) | st.text()


@settings(max_examples=300, deadline=None)
@given(topic=topics, payload=st.binary(max_size=300))
def test_fuzz_bytes_never_raise(topic: str, payload: bytes) -> None:
    r = parse_message(topic, payload, max_bytes=200)
    assert all(j.reason != Reason.INTERNAL_ERROR for j in r.rejects)
    assert r.readings or r.rejects


@settings(max_examples=300, deadline=None)
@given(
    topic=topics,
    doc=json_values
    | readingish
    | st.fixed_dictionaries({"readings": st.lists(readingish | json_values, max_size=6)}),
)
def test_fuzz_json_never_raise(topic: str, doc: object) -> None:
    payload = json.dumps(doc).encode()
    r = parse_message(topic, payload, max_bytes=MAX)
    assert all(j.reason != Reason.INTERNAL_ERROR for j in r.rejects)
    for reading in r.readings:
        assert reading.ts.tzinfo is not None and reading.value == reading.value
