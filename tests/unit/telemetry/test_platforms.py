import base64
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.telemetry.vectors import CJT_A, CJT_B, WN_1, hx
from waternet.ingest.codecs.cjt188 import StatusBits
from waternet.ingest.formats import onenet
from waternet.ingest.formats import platforms as pf
from waternet.ingest.formats.mqtt import Reason

IMEI = "860803030676429"
LOOKUP = {IMEI: "MT-D03-000007", "98765": "MT-D03-000009"}
TS = datetime(2024, 3, 15, 8, 31, tzinfo=UTC)
MAX = 65536


def test_onenet_signature_known_value() -> None:
    # base64(md5("tok" + "abcdefgh" + "hello")) computed independently of the helper
    import hashlib

    expected = base64.b64encode(hashlib.md5(b"tokabcdefghhello").digest()).decode()
    assert onenet.onenet_signature(token="tok", nonce="abcdefgh", msg="hello") == expected


def test_onenet_url_verification() -> None:
    sig = onenet.onenet_signature(token="tok", nonce="n0nce123", msg="ping")
    assert onenet.onenet_verify_url(msg="ping", nonce="n0nce123", signature=sig, token="tok")
    assert onenet.onenet_verify_url(
        msg="ping", nonce="n0nce123", signature=sig.replace("+", " "), token="tok"
    )
    assert not onenet.onenet_verify_url(msg="ping", nonce="n0nce123", signature=sig, token="other")
    assert not onenet.onenet_verify_url(msg="pong", nonce="n0nce123", signature=sig, token="tok")
    assert not onenet.onenet_verify_url(msg="ping", nonce="n0nce124", signature=sig, token="tok")
    assert not pf.signature_matches(sig, None)


def test_onenet_both_formats_accept_and_refuse() -> None:
    for new_format in (False, True):
        push = onenet.onenet_push(
            token="tok",
            imei=IMEI,
            dev_id=12345,
            frame=hx(CJT_A),
            ts=TS,
            nonce="abcdefgh",
            new_format=new_format,
        )
        assert ("signature" in push) == new_format and ("msg_signature" in push) != new_format
        body = pf.push_body(push)
        assert onenet.onenet_verify_body(body, token="tok")
        assert not onenet.onenet_verify_body(body, token="tok2")
        r = onenet.parse_onenet(body, token="tok", max_bytes=MAX, lookup=LOOKUP)
        assert [(x.sensor_code, x.value, x.source) for x in r.readings] == [
            ("MT-D03-000007", 1234.56, "onenet")
        ]
        bad = onenet.parse_onenet(body, token="wrong", max_bytes=MAX, lookup=LOOKUP)
        assert not bad.readings and [j.reason for j in bad.rejects] == [Reason.BAD_SIGNATURE]
        tampered = body.replace(b"563412", b"563413")
        assert (
            onenet.parse_onenet(tampered, token="tok", max_bytes=MAX, lookup=LOOKUP)
            .rejects[0]
            .reason
            == Reason.BAD_SIGNATURE
        )


def test_onenet_exact_text_of_msg_is_signed() -> None:
    frame = hx(CJT_A).hex()
    msg_text = f'{{ "at": 1710491460000, "imei": "{IMEI}", "type": 1, "value": "{frame}" }}'
    sig = onenet.onenet_signature(token="tok", nonce="abcdefgh", msg=msg_text)
    body = (f'{{"msg": {msg_text}, "msg_signature": "{sig}", "nonce": "abcdefgh"}}').encode()
    r = onenet.parse_onenet(body, token="tok", max_bytes=MAX, lookup=LOOKUP)
    assert len(r.readings) == 1 and not r.rejects
    # httpx-style re-serialisation with default separators is tolerated
    push = onenet.onenet_push(token="tok", imei=IMEI, dev_id=1, frame=hx(CJT_A), ts=TS, nonce="n")
    assert onenet.onenet_verify_body(json.dumps(push).encode(), token="tok")


def test_onenet_batch_events_and_unknown_device() -> None:
    msgs = [
        {
            "at": 1710491460000,
            "imei": IMEI,
            "type": 1,
            "ds_id": "3200_0_5750",
            "value": hx(CJT_A).hex(),
            "dev_id": 1,
        },
        {"at": 1710491460000, "imei": "000", "type": 1, "value": hx(CJT_A).hex(), "dev_id": 2},
        {"at": 1710491460000, "dev_id": 98765, "type": 1, "ds_id": "pressure", "value": 3.5},
        {"at": 1710491460000, "imei": IMEI, "type": 2, "status": 1, "login_type": 10},
        {"at": 1710491460000, "imei": IMEI, "type": 1, "value": "zz"},
    ]
    body = json.dumps({"msg": msgs, "nonce": "abcdefgh", "msg_signature": "x"}).encode()
    r = onenet.parse_onenet(body, token=None, max_bytes=MAX, lookup=LOOKUP)
    assert [x.sensor_code for x in r.readings] == ["MT-D03-000007", "MT-D03-000009"]
    assert [(j.index, j.reason) for j in r.rejects] == [
        (1, Reason.UNKNOWN_DEVICE),
        (4, Reason.BAD_ENCODING),
    ]
    assert [(e.device, e.kind) for e in r.events] == [
        ("MT-D03-000007", "status"),
        ("MT-D03-000007", "online"),
    ]


def test_ctwing_data_report_and_lookup_callable() -> None:
    push = pf.ctwing_push(imei=IMEI, device_id="44d0b9e4", frame=hx(WN_1), ts=TS)
    r = pf.parse_ctwing(pf.push_body(push), max_bytes=MAX, lookup=LOOKUP.get)
    assert len(r.readings) == 4 and r.readings[0].source == "ctwing"
    assert r.events[0].kind == "health"
    only_device = pf.ctwing_push(imei="", device_id="98765", frame=hx(CJT_B), ts=TS)
    r = pf.parse_ctwing(pf.push_body(only_device), max_bytes=MAX, lookup=LOOKUP)
    assert r.readings[0].sensor_code == "MT-D03-000009" and r.readings[0].ts == TS


def test_ctwing_status_bits_per_model() -> None:
    push = pf.ctwing_push(
        imei=IMEI,
        device_id="d",
        frame=hx(CJT_A).replace(b"\x00\x00\x6c\x16", b"\x00\x01\x6d\x16"),
        ts=TS,
    )
    r = pf.parse_ctwing(
        pf.push_body(push),
        max_bytes=MAX,
        lookup=LOOKUP,
        status_bits_for=lambda code: StatusBits(valve=8, battery_low=10),
    )
    assert r.events[0].data["valve"] == "closed"


def test_ctwing_other_messages_and_errors() -> None:
    online = {
        "timestamp": 1589444231825,
        "tenantId": "1",
        "protocol": "lwm2m",
        "productId": "1",
        "messageType": "deviceOnlineOfflineReport",
        "eventType": 1,
        "deviceId": "44d0",
    }
    r = pf.parse_ctwing(json.dumps(online).encode(), max_bytes=MAX, lookup={})
    assert [(e.device, e.kind) for e in r.events] == [("ctwing:44d0", "online")]
    event = {
        "messageType": "eventReport",
        "deviceId": "44d0",
        "IMEI": IMEI,
        "timestamp": 1589444231825,
        "serviceId": 1001,
        "eventContent": {"alarm": 1},
    }
    r = pf.parse_ctwing(json.dumps(event).encode(), max_bytes=MAX, lookup=LOOKUP)
    assert r.events[0].kind == "event" and r.events[0].device == "MT-D03-000007"

    def reason(doc: object, **kw: object) -> str:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        res = pf.parse_ctwing(
            body,
            max_bytes=kw.get("max_bytes", MAX),  # type: ignore[arg-type]
            lookup=LOOKUP,
        )
        assert not res.readings and len(res.rejects) == 1
        return res.rejects[0].reason

    good = pf.ctwing_push(imei=IMEI, device_id="d", frame=hx(CJT_A), ts=TS)
    assert reason(b"{") == Reason.MALFORMED_JSON
    assert reason([1]) == Reason.BAD_ENVELOPE
    assert reason({**good, "payload": {"APPdata": "!!"}}) == Reason.BAD_ENCODING
    assert reason({**good, "payload": {"temp": 3}}) == Reason.BAD_ENVELOPE
    assert reason({**good, "IMEI": "1", "deviceId": "2"}) == Reason.UNKNOWN_DEVICE
    assert reason({**good, "messageType": "weird"}) == Reason.BAD_ENVELOPE
    assert reason(good, max_bytes=10) == Reason.OVERSIZED
    corrupt = {**good, "payload": {"APPdata": base64.b64encode(hx(CJT_A)[:-3]).decode()}}
    assert reason(corrupt) == "bad_length"


bodies = st.binary(max_size=300) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "msg",
                    "nonce",
                    "msg_signature",
                    "signature",
                    "type",
                    "imei",
                    "value",
                    "at",
                    "messageType",
                    "payload",
                    "APPdata",
                    "IMEI",
                    "deviceId",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=15,
).map(lambda d: json.dumps(d).encode())


@settings(max_examples=300, deadline=None)
@given(body=bodies, token=st.none() | st.just("tok"))
def test_fuzz_platform_parsers_never_raise(body: bytes, token: str | None) -> None:
    for r in (
        pf.parse_ctwing(body, max_bytes=MAX, lookup=LOOKUP),
        onenet.parse_onenet(body, token=token, max_bytes=MAX, lookup=LOOKUP),
    ):
        assert all(j.reason != Reason.INTERNAL_ERROR for j in r.rejects)
    onenet.onenet_verify_body(body, token="tok")
