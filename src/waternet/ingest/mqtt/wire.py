"""MQTT 3.1.1 and 5 packets for the ingest subscriber: encoders for what it sends, a streaming
decoder for what it receives. Pure: no sockets, no threads.

Only what a QoS 1 subscriber needs: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBACK, PINGREQ and
DISCONNECT out; CONNACK, SUBACK, UNSUBACK, PUBLISH, PINGRESP and DISCONNECT in (anything else is
returned as a raw packet for the caller to refuse). :class:`Decoder` takes the bytes as they
come off the socket, in chunks of any size, and returns the complete packets; PUBLISH packets
come back as plain tuples ``(topic, payload, packet_id, qos)`` because the ingest path handles
tens of thousands a second (OASIS MQTT 3.1.1 and 5.0, sections 2 and 3).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
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


class ProtocolError(Exception):
    """The peer sent bytes that are not a well-formed MQTT packet."""


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
) -> bytes:
    flags = (0x02 if clean_start else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = utf8("MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack(">H", keepalive)
    if v5:
        props = bytes([SESSION_EXPIRY]) + struct.pack(">I", session_expiry)
        props += bytes([RECEIVE_MAXIMUM]) + struct.pack(">H", receive_maximum)
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


def publish_packet(
    topic: str, payload: bytes, *, qos: int, packet_id: int = 0, v5: bool, properties: bytes = b""
) -> bytes:
    """A PUBLISH packet (what a broker sends; used by the tests and tools)."""
    body = utf8(topic)
    if qos:
        body += struct.pack(">H", packet_id)
    if v5:
        body += varint(len(properties)) + properties
    return _packet(PUBLISH, qos << 1, body + payload)


def parse_properties(data: bytes) -> dict[int, object]:
    """MQTT 5 properties -> {identifier: value} (user properties as a list of pairs)."""
    props: dict[int, object] = {}
    i = 0
    while i < len(data):
        pid = data[i]
        i += 1
        if pid in _BYTE:
            value: object = data[i]
            i += 1
        elif pid in _TWO:
            value = int.from_bytes(data[i : i + 2], "big")
            i += 2
        elif pid in _FOUR:
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
                n = int.from_bytes(data[i : i + 2], "big")
                parts.append(bytes(data[i + 2 : i + 2 + n]).decode("utf-8", "replace"))
                i += 2 + n
            if pid in _PAIR:
                pairs = props.setdefault(pid, [])
                assert isinstance(pairs, list)
                pairs.append(tuple(parts))
                continue
            value = parts[0]
        else:
            raise ProtocolError(f"unknown property identifier 0x{pid:02x}")
        if i > len(data):
            raise ProtocolError("truncated property")
        props[pid] = value
    return props


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    code: int  # 0 = accepted (v3 return code or v5 reason code)
    properties: dict[int, object] = field(default_factory=dict)


def parse_connack(body: bytes, *, v5: bool) -> ConnAck:
    if len(body) < 2:
        raise ProtocolError("CONNACK shorter than 2 bytes")
    props: dict[int, object] = {}
    if v5 and len(body) > 2:
        n, i = read_varint(body, 2)
        if n is None or i + n > len(body):
            raise ProtocolError("truncated CONNACK properties")
        props = parse_properties(body[i : i + n])
    return ConnAck(bool(body[0] & 1), body[1], props)


def parse_ack_codes(body: bytes, *, v5: bool) -> tuple[int, list[int]]:
    """SUBACK / UNSUBACK: (packet id, reason codes; v3 UNSUBACK has none)."""
    if len(body) < 2:
        raise ProtocolError("acknowledgement shorter than 2 bytes")
    pid = body[0] << 8 | body[1]
    i = 2
    if v5:
        n, i = read_varint(body, 2)
        if n is None:
            raise ProtocolError("truncated acknowledgement properties")
        i += n
    return pid, list(body[i:])


class Decoder:
    """Streaming decoder: :meth:`feed` bytes, get back the complete packets in order."""

    def __init__(self, *, v5: bool, max_packet: int = MAX_REMAINING) -> None:
        self.v5 = v5
        self.max_packet = max_packet
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
            if length > self.max_packet:
                raise ProtocolError(f"packet of {length} bytes exceeds the limit")
            end = j + length
            if end > n:
                break
            first = buf[i]
            if first >> 4 == PUBLISH:
                qos = (first >> 1) & 3
                if qos == 3 or length < 2:
                    raise ProtocolError("malformed PUBLISH")
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
