"""A minimal pipelined MQTT 3.1.1 publisher for load mode (QoS 0 and 1, no subscriptions).

paho-mqtt spends tens of microseconds of Python per message (measured here at about
10,000 QoS 1 messages/s with one client, less with its network thread competing for the GIL),
which is the ingest benchmark's own target, so the load generator could not show headroom.
This client encodes PUBLISH packets straight into a send buffer, writes them in large chunks
and reads PUBACKs in bulk, keeping up to ``max_inflight`` QoS 1 messages unacknowledged. It
counts acknowledgements exactly (each packet id must be acked once). It is used only by load
mode; the scenario fleets use aiomqtt (``simulators.aiopublisher``). Packets are encoded
and decoded by the ingest worker's codec (:mod:`waternet.ingest.mqtt.wire`), not a second one.
"""

from __future__ import annotations

import os
import select
import socket
import time

from simulators.publishers import parse_mqtt_url
from waternet.ingest.mqtt import wire as wire


class FastMqttPublisher:
    def __init__(
        self,
        url: str,
        *,
        client_id: str = "",
        qos: int = 1,
        max_inflight: int = 1000,
        keepalive: int = 60,
        chunk: int = 256 * 1024,
        timeout: float = 10.0,
    ) -> None:
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        host, port, user, password = parse_mqtt_url(url)
        self.qos = qos
        self.max_inflight = max(1, min(max_inflight, 65000))
        self.chunk = chunk
        self.sent = 0
        self.acked = 0
        self._pid = 0
        self._pending: set[int] = set()
        self._buf = bytearray()
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = client_id or f"wnsim-load-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self._decoder = wire.Decoder(v5=False)
        self._sock.sendall(
            wire.connect_packet(
                client_id=cid,
                v5=False,
                clean_start=True,
                keepalive=keepalive,
                username=user,
                password=password,
            )
        )
        ack = self._recv_exact(4)
        if ack[0] >> 4 != wire.CONNACK:
            raise ConnectionError("MQTT broker did not answer with CONNACK")
        code = wire.parse_connack(ack[2:], v5=False).code
        if code != 0:
            reason = wire.reason_name(code, v5=False, connack=True)
            raise ConnectionError(f"MQTT CONNACK refused ({reason})")

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = self._sock.recv(n - len(data))
            if not part:
                raise ConnectionError("broker closed the connection")
            data += part
        return data

    def publish(self, topic: str, payload: bytes, qos: int | None = None) -> None:
        qos = self.qos if qos is None else qos
        pid = 0
        if qos == 1:
            while len(self._pending) >= self.max_inflight:
                self._send()
                self._read(block=True)
            self._pid = self._pid % 65535 + 1
            while self._pid in self._pending:
                self._pid = self._pid % 65535 + 1
            self._pending.add(self._pid)
            pid = self._pid
        self._buf += wire.publish_packet(topic, payload, qos=qos, packet_id=pid, v5=False)
        self.sent += 1
        if qos == 0:
            self.acked += 1
        if len(self._buf) >= self.chunk:
            self._send()
            if self._pending:
                self._read(block=False)

    def _send(self) -> None:
        if self._buf:
            self._sock.sendall(self._buf)
            self._buf.clear()

    def _read(self, *, block: bool, timeout: float = 5.0) -> None:
        wait = timeout if block else 0.0
        ready, _, _ = select.select([self._sock], [], [], wait)
        if not ready:
            if block:
                raise TimeoutError("no PUBACK from the broker")
            return
        data = self._sock.recv(1 << 20)
        if not data:
            raise ConnectionError("broker closed the connection")
        _pubs, other = self._decoder.feed(data)
        for kind, _flags, body in other:
            if kind == wire.PUBACK and len(body) >= 2:
                pid = body[0] << 8 | body[1]
                if pid in self._pending:
                    self._pending.discard(pid)
                    self.acked += 1

    def flush(self, timeout: float = 60.0) -> bool:
        self._send()
        deadline = time.monotonic() + timeout
        while self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._read(block=True, timeout=min(left, 5.0))
            except TimeoutError:
                continue
        return True

    def close(self) -> None:
        try:
            self._send()
            self._sock.sendall(wire.DISCONNECT_PACKET)
        finally:
            self._sock.close()
