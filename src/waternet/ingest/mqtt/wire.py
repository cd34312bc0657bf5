"""MQTT 3.1.1 and 5 packets for the ingest subscriber: encoders for what it sends, a streaming
decoder for what it receives. Pure: no sockets, no threads.

Only what a QoS 1 subscriber needs: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBACK, PINGREQ and
DISCONNECT out; CONNACK, SUBACK, UNSUBACK, PUBLISH, PINGRESP and DISCONNECT in (anything else is
returned as a raw packet for the caller to refuse). PUBLISH is also encoded, for the load
publisher (``simulators.fastmqtt``) and the tests. :class:`Decoder` takes the bytes as they
come off the socket, in chunks of any size, and returns the complete packets; PUBLISH packets
come back as plain tuples ``(topic, payload, packet_id, qos)`` because the ingest path handles
tens of thousands a second (OASIS MQTT 3.1.1 and 5.0, sections 2 and 3).

Every malformed input raises :class:`ProtocolError` (never IndexError or struct.error), with
the MQTT 5 reason code a client sends in its DISCONNECT: 0x81 malformed packet, 0x82 protocol
error (e.g. a PUBLISH above the decoder's ``max_qos``), 0x95 packet too large (over the
decoder's ``max_packet``, the Maximum Packet Size the client announced in CONNECT).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from waternet.errors import ServiceUnavailable
from waternet.ingest.mqtt.reasons import CONNACK_V3 as CONNACK_V3
from waternet.ingest.mqtt.reasons import REASONS_V5 as REASONS_V5
from waternet.ingest.mqtt.reasons import reason_name as reason_name

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
MAX_REMAINING = 268_435_455
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # v5: no reason code = 0x00 normal disconnection
_PUBACK = struct.Struct(">BBH")

Publish = tuple[str, bytes, int, int]  # topic, payload, packet id (0 for QoS 0), QoS

# MQTT 5 property identifiers by the shape of their value (section 2.2.2.2)
_BYTE = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
_TWO = frozenset({0x13, 0x21, 0x22, 0x23})
_FOUR = frozenset({0x02, 0x11, 0x18, 0x27})
_VARINT = frozenset({0x0B})
_TEXT = frozenset({0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F})
_PAIR = frozenset({0x26})
SESSION_EXPIRY, RECEIVE_MAXIMUM, SERVER_KEEP_ALIVE, REASON_STRING = 0x11, 0x21, 0x13, 0x1F
MAXIMUM_PACKET_SIZE, SERVER_REFERENCE = 0x27, 0x1C
MALFORMED, PROTOCOL_ERROR, PACKET_TOO_LARGE = 0x81, 0x82, 0x95


class ProtocolError(ServiceUnavailable):
    """The peer sent bytes that are not a well-formed MQTT packet (or broke the protocol).

    ``reason`` is the MQTT 5 reason code for the DISCONNECT the client sends before closing.
    The broker, not waternet's caller, is at fault: a :class:`ServiceUnavailable`.
    """

    code = "mqtt_protocol_error"

    def __init__(self, message: str, reason: int = MALFORMED) -> None:
        super().__init__(message)
        self.reason = reason


def varint(n: int) -> bytes:
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"variable byte integer out of range: {n}")
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def read_varint(buf: bytes | bytearray, i: int) -> tuple[int | None, int]:
    """(value, index after it), or (None, i) when ``buf`` ends inside it."""
    value, shift, j = 0, 0, i
    while j < len(buf):
        b = buf[j]
        value |= (b & 0x7F) << shift
        j += 1
        if b < 0x80:
            return value, j
        shift += 7
        if shift > 21:
            raise ProtocolError("variable byte integer longer than 4 bytes")
    return None, i


def utf8(text: str | bytes) -> bytes:
    b = text.encode() if isinstance(text, str) else text
    if len(b) > 0xFFFF:
        raise ValueError("string longer than 65535 bytes")
    return struct.pack(">H", len(b)) + b


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + varint(len(body)) + body


def connect_packet(
    *,
    client_id: str,
    v5: bool,
    clean_start: bool,
    keepalive: int,
    username: str | None = None,
    password: str | None = None,
    session_expiry: int = 0,
    receive_maximum: int = 65535,
    max_packet_size: int | None = None,
) -> bytes:
    """CONNECT; with ``v5``, Session Expiry, Receive Maximum and (if given) Maximum Packet Size
    properties (the broker must not send this client a larger packet)."""
    if not 1 <= receive_maximum <= 65535:
        raise ValueError("receive maximum must be 1..65535")
    flags = (0x02 if clean_start else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = utf8("MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack(">H", keepalive)
    if v5:
        props = bytes([SESSION_EXPIRY]) + struct.pack(">I", session_expiry)
        props += bytes([RECEIVE_MAXIMUM]) + struct.pack(">H", receive_maximum)
        if max_packet_size is not None:
            props += bytes([MAXIMUM_PACKET_SIZE]) + struct.pack(">I", max_packet_size)
        body += varint(len(props)) + props
    body += utf8(client_id)
    if username:
        body += utf8(username)
    if password:
        body += utf8(password)
    return _packet(CONNECT, 0, body)


def subscribe_packet(packet_id: int, filters: list[str], *, qos: int, v5: bool) -> bytes:
    body = struct.pack(">H", packet_id) + (b"\x00" if v5 else b"")
    for f in filters:
        body += utf8(f) + bytes([qos])
    return _packet(SUBSCRIBE, 0x2, body)


def unsubscribe_packet(packet_id: int, filters: list[str], *, v5: bool) -> bytes:
    body = struct.pack(">H", packet_id) + (b"\x00" if v5 else b"")
    for f in filters:
        body += utf8(f)
    return _packet(UNSUBSCRIBE, 0x2, body)


def puback_packets(packet_ids: list[int]) -> bytes:
    """PUBACK for each id, as one buffer (v5 allows leaving out reason code 0 and properties)."""
    buf = bytearray(4 * len(packet_ids))
    for i, pid in enumerate(packet_ids):
        _PUBACK.pack_into(buf, 4 * i, PUBACK << 4, 2, pid)
    return bytes(buf)


def disconnect_packet(reason: int = 0, *, v5: bool) -> bytes:
    """DISCONNECT; MQTT 5 carries a reason code (3.1.1 has none)."""
    return bytes([DISCONNECT << 4, 1, reason]) if v5 and reason else DISCONNECT_PACKET


def publish_packet(
    topic: str | bytes,
    payload: bytes,
    *,
    qos: int,
    packet_id: int = 0,
    v5: bool,
    properties: bytes = b"",
) -> bytes:
    """A PUBLISH packet (sent by the load publisher; a broker sends the same to subscribers)."""
    if qos not in (0, 1, 2):
        raise ValueError("QoS must be 0, 1 or 2")
    body = utf8(topic)
    if qos:
        body += struct.pack(">H", packet_id)
    if v5:
        body += varint(len(properties)) + properties
    return _packet(PUBLISH, qos << 1, body + payload)


def parse_properties(data: bytes) -> dict[int, object]:
    """MQTT 5 properties -> {identifier: value} (user properties as a list of pairs)."""
    props: dict[int, object] = {}
    i, n = 0, len(data)

    def need(k: int) -> None:
        if i + k > n:
            raise ProtocolError("truncated property")

    while i < n:
        pid = data[i]
        i += 1
        if pid in _BYTE:
            need(1)
            value: object = data[i]
            i += 1
        elif pid in _TWO:
            need(2)
            value = int.from_bytes(data[i : i + 2], "big")
            i += 2
        elif pid in _FOUR:
            need(4)
            value = int.from_bytes(data[i : i + 4], "big")
            i += 4
        elif pid in _VARINT:
            v, i = read_varint(data, i)
            if v is None:
                raise ProtocolError("truncated property")
            value = v
        elif pid in _TEXT or pid in _PAIR:
            parts = []
            for _ in range(2 if pid in _PAIR else 1):
                need(2)
                k = int.from_bytes(data[i : i + 2], "big")
                i += 2
                need(k)
                parts.append(bytes(data[i : i + k]).decode("utf-8", "replace"))
                i += k
            if pid in _PAIR:
                pairs = props.setdefault(pid, [])
                assert isinstance(pairs, list)
                pairs.append(tuple(parts))
                continue
            value = parts[0]
        else:
            raise ProtocolError(f"unknown property identifier 0x{pid:02x}")
        props[pid] = value
    return props


def _properties_at(body: bytes, i: int, what: str) -> tuple[dict[int, object], int]:
    """The properties starting at ``body[i]`` (length first) and the index after them."""
    n, j = read_varint(body, i)
    if n is None or j + n > len(body):
        raise ProtocolError(f"truncated {what} properties")
    return parse_properties(body[j : j + n]), j + n


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    code: int  # 0 = accepted (v3 return code or v5 reason code)
    properties: dict[int, object] = field(default_factory=dict)


def parse_connack(body: bytes, *, v5: bool) -> ConnAck:
    if len(body) < 2:
        raise ProtocolError("CONNACK shorter than 2 bytes")
    if body[0] & 0xFE:
        raise ProtocolError("CONNACK with reserved flags set")
    props: dict[int, object] = {}
    if v5 and len(body) > 2:
        props, end = _properties_at(body, 2, "CONNACK")
        if end != len(body):
            raise ProtocolError("bytes after the CONNACK properties")
    elif len(body) > 2:
        raise ProtocolError("MQTT 3.1.1 CONNACK longer than 2 bytes")
    return ConnAck(bool(body[0] & 1), body[1], props)


def parse_disconnect(body: bytes, *, v5: bool) -> tuple[int, dict[int, object]]:
    """A broker's DISCONNECT (MQTT 5): (reason code, properties); no body means 0x00."""
    if not body:
        return 0, {}
    if not v5:
        raise ProtocolError("MQTT 3.1.1 DISCONNECT with a body")
    if len(body) == 1:
        return body[0], {}
    props, end = _properties_at(body, 1, "DISCONNECT")
    if end != len(body):
        raise ProtocolError("bytes after the DISCONNECT properties")
    return body[0], props


def parse_ack_codes(body: bytes, *, v5: bool) -> tuple[int, list[int]]:
    """SUBACK / UNSUBACK: (packet id, reason codes; v3 UNSUBACK has none)."""
    if len(body) < 2:
        raise ProtocolError("acknowledgement shorter than 2 bytes")
    pid = body[0] << 8 | body[1]
    i = 2
    if v5:
        _props, i = _properties_at(body, 2, "acknowledgement")
    return pid, list(body[i:])


class Decoder:
    """Streaming decoder: :meth:`feed` bytes, get back the complete packets in order.

    ``max_packet`` bounds a whole packet (fixed header included, as MQTT 5 Maximum Packet Size
    does); ``max_qos`` is the highest PUBLISH QoS accepted (a subscriber that subscribed with
    QoS 1 passes 1: a broker must not send it QoS 2).
    """

    def __init__(self, *, v5: bool, max_packet: int = MAX_REMAINING + 5, max_qos: int = 2) -> None:
        self.v5 = v5
        self.max_packet = max_packet
        self.max_qos = max_qos
        self._buf = bytearray()

    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> tuple[list[Publish], list[tuple[int, int, bytes]]]:
        """(PUBLISH packets as tuples, other packets as (type, flags, body)), both in order of
        arrival within their kind. Raises :class:`ProtocolError` on malformed input."""
        buf = self._buf
        buf += data
        n = len(buf)
        i = 0
        pubs: list[Publish] = []
        other: list[tuple[int, int, bytes]] = []
        v5 = self.v5
        while n - i >= 2:
            length = buf[i + 1]
            if length < 0x80:  # the common case inline: packets under 128 bytes
                j = i + 2
            else:
                vlen, j = read_varint(buf, i + 1)
                if vlen is None:
                    break
                length = vlen
            if j - i + length > self.max_packet:
                raise ProtocolError(
                    f"packet of {j - i + length} bytes exceeds the maximum packet size "
                    f"{self.max_packet}",
                    PACKET_TOO_LARGE,
                )
            end = j + length
            if end > n:
                break
            first = buf[i]
            if first >> 4 == PUBLISH:
                qos = (first >> 1) & 3
                if qos == 3 or length < 2:
                    raise ProtocolError("malformed PUBLISH")
                if qos > self.max_qos:
                    raise ProtocolError(
                        f"PUBLISH with QoS {qos} above the subscribed maximum {self.max_qos}",
                        PROTOCOL_ERROR,
                    )
                k = j + 2 + (buf[j] << 8 | buf[j + 1])
                if k + (2 if qos else 0) > end:
                    raise ProtocolError("PUBLISH header longer than the packet")
                topic = buf[j + 2 : k].decode("utf-8", "replace")
                mid = 0
                if qos:
                    mid = buf[k] << 8 | buf[k + 1]
                    k += 2
                if v5:
                    if k >= end:
                        raise ProtocolError("PUBLISH without its properties length")
                    plen = buf[k]
                    if plen < 0x80:
                        k += 1 + plen
                    else:
                        vplen, k = read_varint(buf, k)
                        if vplen is None:
                            raise ProtocolError("truncated PUBLISH properties")
                        k += vplen
                if k > end:
                    raise ProtocolError("PUBLISH header longer than the packet")
                pubs.append((topic, bytes(buf[k:end]), mid, qos))
            else:
                other.append((first >> 4, first & 0x0F, bytes(buf[j:end])))
            i = end
        del buf[:i]
        return pubs, other
