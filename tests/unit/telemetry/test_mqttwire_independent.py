"""The MQTT codec against encoders and decoders it shares no code with.

MQTT 5: the ``mqtt5`` package (a Rust implementation) writes what a broker sends (PUBLISH,
CONNACK, SUBACK, DISCONNECT) for our decoder, and reads what we send (CONNECT, SUBSCRIBE,
PUBACK, PUBLISH, DISCONNECT). MQTT 3.1.1: paho-mqtt's own packet builders (CONNECT, PUBLISH).
"""

from __future__ import annotations

import contextlib
from typing import Any

import mqtt5
import paho.mqtt.client as paho
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from waternet.ingest.mqtt import wire as wire

text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30)
names = st.text(  # topic names: no wildcards
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00+#"),
    min_size=1,
    max_size=30,
)
pairs = st.lists(st.tuples(text, text), max_size=3)


def members(enum: Any) -> list[Any]:
    """The members of an mqtt5 enum (a Rust class: not iterable like an IntEnum)."""
    return [getattr(enum, n) for n in dir(enum) if n.isupper()]


def decode_one(data: bytes, *, v5: bool, **kw: Any) -> tuple[list[wire.Publish], list[Any]]:
    decoder = wire.Decoder(v5=v5, **kw)
    pubs, other = decoder.feed(data)
    assert decoder.pending() == 0
    return pubs, other


# -- what a broker sends, written by mqtt5, read by our decoder -------------------------------
@settings(max_examples=300, deadline=None)
@given(
    topic=names,
    payload=st.binary(max_size=400),
    qos=st.sampled_from([0, 1]),
    pid=st.integers(1, 65535),
    expiry=st.none() | st.integers(0, 2**32 - 1),
    content_type=st.none() | text,
    user=pairs,
    sub_ids=st.lists(st.integers(1, 2**28 - 1), max_size=3),
)
def test_mqtt5_publish_written_by_mqtt5_is_decoded(
    topic: str,
    payload: bytes,
    qos: int,
    pid: int,
    expiry: int | None,
    content_type: str | None,
    user: list[tuple[str, str]],
    sub_ids: list[int],
) -> None:
    packet = mqtt5.PublishPacket(
        topic,
        payload,
        qos=mqtt5.QoS(qos),
        packet_id=pid if qos else None,
        message_expiry_interval=expiry,
        content_type=content_type,
        user_properties=user,
        subscription_ids=sub_ids,
    ).write()
    pubs, other = decode_one(packet, v5=True)
    assert pubs == [(topic, payload, pid if qos else 0, qos)] and other == []


@settings(max_examples=200, deadline=None)
@given(
    present=st.booleans(),
    code=st.sampled_from(members(mqtt5.ConnAckReasonCode)),
    keep_alive=st.none() | st.integers(1, 65535),
    receive_max=st.integers(1, 65535),
    max_packet=st.none() | st.integers(1, 2**32 - 1),
    reason=st.none() | text,
    user=pairs,
)
def test_connack_written_by_mqtt5_is_parsed(
    present: bool,
    code: mqtt5.ConnAckReasonCode,
    keep_alive: int | None,
    receive_max: int,
    max_packet: int | None,
    reason: str | None,
    user: list[tuple[str, str]],
) -> None:
    data = mqtt5.ConnAckPacket(
        session_present=present and code == 0,
        reason_code=code,
        server_keep_alive=keep_alive,
        receive_max=receive_max,
        max_packet_size=max_packet,
        reason_str=reason,
        user_properties=user,
    ).write()
    _, other = decode_one(data, v5=True)
    [(kind, flags, body)] = other
    assert (kind, flags) == (wire.CONNACK, 0)
    ack = wire.parse_connack(body, v5=True)
    assert ack.code == int(code) and ack.session_present == (present and code == 0)
    assert ack.properties.get(wire.SERVER_KEEP_ALIVE) == keep_alive
    assert ack.properties.get(wire.RECEIVE_MAXIMUM, 65535) == receive_max
    assert ack.properties.get(wire.MAXIMUM_PACKET_SIZE) == max_packet
    assert ack.properties.get(wire.REASON_STRING) == reason
    assert ack.properties.get(0x26, []) == user
    assert wire.reason_name(int(code), v5=True, connack=True).startswith(f"0x{int(code):02x} ")


@given(
    pid=st.integers(1, 65535),
    codes=st.lists(st.sampled_from(members(mqtt5.SubAckReasonCode)), min_size=1, max_size=8),
    reason=st.none() | text,
)
def test_suback_written_by_mqtt5_is_parsed(
    pid: int, codes: list[mqtt5.SubAckReasonCode], reason: str | None
) -> None:
    data = mqtt5.SubAckPacket(pid, codes, reason_str=reason).write()
    [(kind, _flags, body)] = decode_one(data, v5=True)[1]
    assert kind == wire.SUBACK
    assert wire.parse_ack_codes(body, v5=True) == (pid, [int(c) for c in codes])


@given(
    code=st.sampled_from(members(mqtt5.DisconnectReasonCode)),
    server=st.none() | text,
)
def test_disconnect_written_by_mqtt5_is_parsed(
    code: mqtt5.DisconnectReasonCode, server: str | None
) -> None:
    data = mqtt5.DisconnectPacket(reason_code=code, server_reference=server).write()
    [(kind, _flags, body)] = decode_one(data, v5=True)[1]
    assert kind == wire.DISCONNECT
    reason, props = wire.parse_disconnect(body, v5=True)
    assert reason == int(code) and props.get(wire.SERVER_REFERENCE) == server
    assert "unknown" not in wire.reason_name(reason, v5=True)


def test_session_taken_over_in_words() -> None:
    data = mqtt5.DisconnectPacket(reason_code=mqtt5.DisconnectReasonCode.SESSION_TAKEN_OVER)
    [(_, _, body)] = decode_one(data.write(), v5=True)[1]
    assert wire.reason_name(wire.parse_disconnect(body, v5=True)[0], v5=True) == (
        "0x8e session taken over"
    )


# -- what we send, read by mqtt5 ---------------------------------------------------------------
def read5(data: bytes) -> Any:
    packet, n = mqtt5.read(memoryview(data))
    assert n == len(data)
    return packet


@given(
    client_id=text,
    keepalive=st.integers(0, 65535),
    expiry=st.integers(0, 2**32 - 1),
    receive_max=st.integers(1, 65535),
    max_packet=st.none() | st.integers(1, 2**32 - 1),
    user=st.none() | text.filter(bool),
    password=st.none() | text.filter(bool),
    clean=st.booleans(),
)
def test_our_mqtt5_connect_is_read_by_mqtt5(
    client_id: str,
    keepalive: int,
    expiry: int,
    receive_max: int,
    max_packet: int | None,
    user: str | None,
    password: str | None,
    clean: bool,
) -> None:
    c = read5(
        wire.connect_packet(
            client_id=client_id,
            v5=True,
            clean_start=clean,
            keepalive=keepalive,
            username=user,
            password=password,
            session_expiry=expiry,
            receive_maximum=receive_max,
            max_packet_size=max_packet,
        )
    )
    assert isinstance(c, mqtt5.ConnectPacket)
    assert (c.client_id, c.keep_alive, c.clean_start) == (client_id, keepalive, clean)
    assert (c.session_expiry_interval, c.receive_max) == (expiry, receive_max)
    assert c.max_packet_size == max_packet
    assert c.username == user
    assert c.password == (password.encode() if password else None)


@given(
    pid=st.integers(1, 65535),
    filters=st.lists(text.filter(bool), min_size=1, max_size=5),
    qos=st.sampled_from([0, 1]),
)
def test_our_subscribe_unsubscribe_are_read_by_mqtt5(
    pid: int, filters: list[str], qos: int
) -> None:
    s = read5(wire.subscribe_packet(pid, filters, qos=qos, v5=True))
    assert isinstance(s, mqtt5.SubscribePacket) and s.packet_id == pid
    assert [(f.pattern, int(f.max_qos)) for f in s.topic_filters] == [(f, qos) for f in filters]
    u = read5(wire.unsubscribe_packet(pid, filters, v5=True))
    assert isinstance(u, mqtt5.UnsubscribePacket) and (u.packet_id, u.patterns) == (pid, filters)


@given(st.lists(st.integers(1, 65535), min_size=1, max_size=20))
def test_our_pubacks_are_read_by_mqtt5(pids: list[int]) -> None:
    data = memoryview(wire.puback_packets(pids))
    got = []
    while data:
        packet, n = mqtt5.read(data)
        assert isinstance(packet, mqtt5.PubAckPacket) and packet.reason_code == 0
        got.append(packet.packet_id)
        data = data[n:]
    assert got == pids


@given(
    topic=names,
    payload=st.binary(max_size=300),
    qos=st.sampled_from([0, 1]),
    pid=st.integers(1, 65535),
)
def test_our_publish_is_read_by_mqtt5(topic: str, payload: bytes, qos: int, pid: int) -> None:
    p = read5(wire.publish_packet(topic, payload, qos=qos, packet_id=pid, v5=True))
    assert isinstance(p, mqtt5.PublishPacket)
    assert (p.topic, p.payload, int(p.qos)) == (topic, payload, qos)
    assert p.packet_id == (pid if qos else None)


@pytest.mark.parametrize("reason", [0x00, 0x81, 0x82, 0x95])
def test_our_disconnect_is_read_by_mqtt5(reason: int) -> None:
    d = read5(wire.disconnect_packet(reason, v5=True))
    assert isinstance(d, mqtt5.DisconnectPacket) and int(d.reason_code) == reason
    assert wire.disconnect_packet(reason, v5=False) == b"\xe0\x00"


# -- MQTT 3.1.1: paho's packet builders --------------------------------------------------------
class _NoSocket:
    def close(self) -> None:
        pass


def paho_packets(protocol: int) -> tuple[paho.Client, list[bytes]]:
    """A paho client whose packets are captured instead of sent."""
    out: list[bytes] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=protocol)
    client._sock = _NoSocket()  # type: ignore[assignment]  # paho only checks it is set

    def capture(command: int, packet: bytes, mid: int, qos: int, info: Any = None) -> int:
        out.append(bytes(packet))
        return 0

    client._packet_queue = capture  # type: ignore[method-assign]
    return client, out


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(
        st.tuples(names, st.binary(max_size=300), st.sampled_from([0, 1])),
        min_size=1,
        max_size=8,
    ),
    v5=st.booleans(),
    expiry=st.none() | st.integers(1, 2**32 - 1),
    cuts=st.lists(st.integers(1, 100), max_size=20),
)
def test_publish_built_by_paho_is_decoded_in_any_chunking(
    items: list[tuple[str, bytes, int]], v5: bool, expiry: int | None, cuts: list[int]
) -> None:
    client, out = paho_packets(paho.MQTTv5 if v5 else paho.MQTTv311)
    props = None
    if v5 and expiry is not None:
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = expiry
        props.UserProperty = ("site", "PT-1")
    for mid, (topic, payload, qos) in enumerate(items, start=1):
        client._send_publish(mid, topic.encode(), payload, qos, properties=props)
    data = b"".join(out)
    decoder = wire.Decoder(v5=v5)
    got: list[wire.Publish] = []
    i = 0
    for c in [*cuts, len(data)]:
        got += decoder.feed(data[i : i + c])[0]
        i += c
    assert got == [(t, p, mid if q else 0, q) for mid, (t, p, q) in enumerate(items, start=1)]
    # and our encoder writes the same bytes as paho for 3.1.1
    if not v5:
        ours = [
            wire.publish_packet(t, p, qos=q, packet_id=mid, v5=False)
            for mid, (t, p, q) in enumerate(items, start=1)
        ]
        assert ours == out


@given(
    client_id=text.filter(bool),
    keepalive=st.integers(1, 65535),
    user=st.none() | text.filter(bool),
    password=text.filter(bool),
)
def test_our_311_connect_matches_paho(
    client_id: str, keepalive: int, user: str | None, password: str
) -> None:
    client, out = paho_packets(paho.MQTTv311)
    client._client_id = client_id.encode()
    client._clean_session = False
    if user:
        client.username_pw_set(user, password)
    client._send_connect(keepalive)
    ours = wire.connect_packet(
        client_id=client_id,
        v5=False,
        clean_start=False,
        keepalive=keepalive,
        username=user,
        password=password if user else None,
    )
    assert out == [ours]


# -- malformed input: ProtocolError only -------------------------------------------------------
@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=60), st.booleans())
def test_parsers_raise_only_protocol_errors(body: bytes, v5: bool) -> None:
    for parse in (wire.parse_connack, wire.parse_ack_codes, wire.parse_disconnect):
        with contextlib.suppress(wire.ProtocolError):
            parse(body, v5=v5)
    with contextlib.suppress(wire.ProtocolError):
        wire.parse_properties(body)


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 15), st.binary(max_size=40), st.booleans())
def test_truncations_of_real_packets_never_crash(cut: int, junk: bytes, v5: bool) -> None:
    """Every prefix of a real CONNACK/SUBACK/PUBLISH, re-framed as a complete packet (so the
    length is right but the body is short), then junk: ProtocolError or packets, nothing else."""
    full = [
        mqtt5.ConnAckPacket(reason_code=mqtt5.ConnAckReasonCode.NOT_AUTHORIZED, reason_str="x"),
        mqtt5.SubAckPacket(9, [mqtt5.SubAckReasonCode.NOT_AUTHORIZED], reason_str="no"),
        mqtt5.PublishPacket("a/b", b"xyz", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=3),
    ]
    for packet in full:
        data = packet.write()
        header, length = data[0], data[1]
        body = data[2 : 2 + min(cut, length)]
        with contextlib.suppress(wire.ProtocolError):
            decoder = wire.Decoder(v5=v5)
            _, other = decoder.feed(bytes([header]) + wire.varint(len(body)) + body + junk)
            for kind, _f, b in other:
                if kind == wire.CONNACK:
                    wire.parse_connack(b, v5=v5)
                elif kind == wire.SUBACK:
                    wire.parse_ack_codes(b, v5=v5)


def test_truncated_connack_is_a_protocol_error() -> None:
    for body in (b"", b"\x00", b"\x00\x00\x05\x21"):
        with pytest.raises(wire.ProtocolError):
            wire.parse_connack(body, v5=True)
    with pytest.raises(wire.ProtocolError):
        wire.parse_connack(b"\x00\x00\x03\x21\x00", v5=True)  # property cut short
    with pytest.raises(wire.ProtocolError):
        wire.parse_properties(b"\x01")  # a byte property without its byte


def test_packets_over_the_maximum_size_and_qos_2_are_refused() -> None:
    data = mqtt5.PublishPacket("t", b"x" * 100, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1).write()
    assert decode_one(data, v5=True, max_packet=len(data))[0] == [("t", b"x" * 100, 1, 1)]
    with pytest.raises(wire.ProtocolError) as too_big:
        wire.Decoder(v5=True, max_packet=len(data) - 1).feed(data)
    assert too_big.value.reason == wire.PACKET_TOO_LARGE
    # refused from the header alone, before the body arrives
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(v5=True, max_packet=1000).feed(b"\x30\xff\xff\x7f")
    qos2 = mqtt5.PublishPacket("t", b"x", qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=5).write()
    assert decode_one(qos2, v5=True)[0] == [("t", b"x", 5, 2)]
    with pytest.raises(wire.ProtocolError) as exc:
        wire.Decoder(v5=True, max_qos=1).feed(qos2)
    assert exc.value.reason == wire.PROTOCOL_ERROR


def test_reason_names() -> None:
    assert wire.reason_name(5, v5=False, connack=True) == "5 not authorized"
    assert wire.reason_name(1, v5=True, connack=True) == "1 unacceptable protocol version"
    assert wire.reason_name(0x87, v5=True, connack=True) == "0x87 not authorized"
    assert wire.reason_name(0x80, v5=False) == "0x80 failure"
