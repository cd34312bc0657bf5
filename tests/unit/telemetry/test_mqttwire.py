"""The ingest subscriber's MQTT codec: round trips, any chunking, malformed input."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waternet.ingest.mqtt import wire as wire

topics = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
)
publishes = st.tuples(
    topics, st.binary(max_size=300), st.integers(1, 65535), st.sampled_from([0, 1])
)
properties = st.sampled_from(
    [b"", b"\x01\x01", b"\x02\x00\x00\x00\x3c", b"\x26\x00\x01k\x00\x01v", b"\x0b\x81\x01"]
)


def _packets(items: list[tuple[str, bytes, int, int]], v5: bool, props: bytes) -> bytes:
    return b"".join(
        wire.publish_packet(t, p, qos=q, packet_id=pid if q else 0, v5=v5, properties=props)
        for t, p, pid, q in items
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(publishes, max_size=12),
    st.booleans(),
    properties,
    st.lists(st.integers(1, 200), max_size=30),
)
def test_publish_round_trip_under_any_chunking(
    items: list[tuple[str, bytes, int, int]], v5: bool, props: bytes, cuts: list[int]
) -> None:
    data = _packets(items, v5, props if v5 else b"") + wire.PINGREQ_PACKET.replace(b"\xc0", b"\xd0")
    decoder = wire.Decoder(v5=v5)
    got: list[wire.Publish] = []
    other: list[tuple[int, int, bytes]] = []
    i = 0
    for c in [*cuts, len(data)]:
        p, o = decoder.feed(data[i : i + c])
        got += p
        other += o
        i += c
    p, o = decoder.feed(data[i:])
    got += p
    other += o
    assert got == [(t, b, pid if q else 0, q) for t, b, pid, q in items]
    assert other == [(wire.PINGRESP, 0, b"")]
    assert decoder.pending() == 0


@given(st.integers(0, wire.MAX_REMAINING))
def test_varint_round_trip(n: int) -> None:
    encoded = wire.varint(n)
    assert 1 <= len(encoded) <= 4
    assert wire.read_varint(encoded + b"\x00", 0) == (n, len(encoded))
    assert wire.read_varint(encoded[:-1], 0) == (None, 0)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([0x30, 0x32, 0x34, 0x36, 0x90, 0xD0]),
    st.binary(max_size=40),
    st.binary(max_size=8),
    st.booleans(),
)
def test_garbage_raises_only_protocol_errors(
    first: int, body: bytes, tail: bytes, v5: bool
) -> None:
    """Packets of any body (PUBLISH-shaped mostly), then anything: a ProtocolError or packets,
    never another exception."""
    decoder = wire.Decoder(v5=v5, max_packet=1 << 20)
    with contextlib.suppress(wire.ProtocolError):
        pubs, _other = decoder.feed(bytes([first]) + wire.varint(len(body)) + body + tail)
        for topic, payload, mid, qos in pubs:
            assert isinstance(topic, str) and isinstance(payload, bytes)
            assert 0 <= mid <= 65535 and qos in (0, 1, 2)


def test_control_packets() -> None:
    connect = wire.connect_packet(
        client_id="w1",
        v5=True,
        clean_start=False,
        keepalive=30,
        username="u",
        password="p",
        session_expiry=3600,
    )
    assert connect[0] == 0x10
    body = connect[2:]
    assert body[:7] == b"\x00\x04MQTT\x05" and body[7] == 0xC0  # user, password, no clean start
    assert body[8:10] == struct.pack(">H", 30)
    assert wire.puback_packets([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
    sub = wire.subscribe_packet(7, ["$share/g/a/+"], qos=1, v5=True)
    assert sub[0] == 0x82 and sub[2:5] == b"\x00\x07\x00" and sub.endswith(b"a/+\x01")
    sub3 = wire.subscribe_packet(7, ["a/+"], qos=1, v5=False)
    assert sub3 == b"\x82\x08\x00\x07\x00\x03a/+\x01"
    ack = wire.parse_connack(b"\x01\x00\x03\x21\x00\x0a", v5=True)
    assert ack.session_present and ack.code == 0 and ack.properties == {0x21: 10}
    assert wire.parse_connack(b"\x00\x01", v5=False).code == 1
    assert wire.parse_ack_codes(b"\x00\x07\x00\x01\x9e", v5=True) == (7, [1, 0x9E])
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(v5=False).feed(b"\x36\x02\x00\x00")  # QoS 3
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(v5=False).feed(b"\x30\xff\xff\xff\xff\x01")  # 5-byte length
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(v5=False).feed(b"\x32\x02\x00\x00")  # QoS 1 without a packet id
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(v5=True).feed(b"\x30\x03\x00\x05a")  # topic longer than the packet
