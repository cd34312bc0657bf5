"""The ingest worker's MQTT connection: a QoS 1 subscriber with manual acknowledgement.

Why not paho-mqtt: paho 2 has ``manual_ack``, and the worker used it, but it spends tens of
microseconds of Python per message (a packet object, a message object, a callback, a queued
PUBACK and a wake-up of its network thread each), which capped one worker near 10,000 single
readings a second on the benchmark machine. This session reads the socket in large chunks,
decodes every complete PUBLISH with :mod:`waternet.ingest.mqtt.wire` and hands them over as one
list; the writer acknowledges a committed batch with one buffer of PUBACKs.

What it does: MQTT 5 (persistent session with an expiry, Receive Maximum) or 3.1.1
(clean session off), ``auto`` trying 5 then 3.1.1; TLS for ``mqtts://``; keep-alive pings;
reconnection with back-off, the caller being told each time (``on_connect``) so that it
subscribes again; acknowledgements of an earlier connection dropped (the broker redelivers those
messages: QoS 1 is at least once, and storage is idempotent).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from waternet.config import MqttUrl
from waternet.ingest.mqtt import wire as wire

log = logging.getLogger(__name__)
RECV_BYTES = 1 << 18
OnPublishes = Callable[[list[wire.Publish], int], None]
OnConnect = Callable[[bool, int], None]


class MqttSession:
    def __init__(
        self,
        broker: MqttUrl,
        *,
        client_id: str,
        protocol: str = "auto",
        session_expiry: int = 7 * 24 * 3600,
        keepalive: int = 30,
        on_publishes: OnPublishes,
        on_connect: OnConnect,
        connect_timeout: float = 10.0,
        reconnect: tuple[float, float] = (1.0, 10.0),
    ) -> None:
        if protocol not in ("auto", "5", "311"):
            raise ValueError("protocol must be auto, 5 or 311")
        self.broker = broker
        self.client_id = client_id
        self.protocol = protocol
        self.session_expiry = session_expiry
        self.keepalive = keepalive
        self.on_publishes = on_publishes
        self.on_connect = on_connect
        self.connect_timeout = connect_timeout
        self.reconnect_delay = reconnect
        self.v5 = protocol != "311"
        self.generation = 0
        self.connected = threading.Event()
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last_tx = 0.0
        self._last_rx = 0.0
        self._decoder = wire.Decoder(v5=self.v5)

    # -- connecting -----------------------------------------------------------------------------
    def _open(self, v5: bool) -> tuple[socket.socket, wire.Decoder, bool, list[wire.Publish]]:
        """Connect and wait for CONNACK; returns the socket, its decoder, whether the broker
        kept the session, and the messages it sent right behind the CONNACK (redeliveries)."""
        b = self.broker
        sock = socket.create_connection((b.host, b.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if b.tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=b.host)
            sock.sendall(
                wire.connect_packet(
                    client_id=self.client_id,
                    v5=v5,
                    clean_start=False,
                    keepalive=self.keepalive,
                    username=b.username,
                    password=b.password,
                    session_expiry=self.session_expiry,
                )
            )
            decoder = wire.Decoder(v5=v5)
            deadline = time.monotonic() + self.connect_timeout
            while True:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                data = sock.recv(RECV_BYTES)
                if not data:
                    raise ConnectionError("broker closed the connection before CONNACK")
                pubs, other = decoder.feed(data)
                if other:
                    break
                if pubs or time.monotonic() > deadline:
                    raise ConnectionError("no CONNACK from the broker")
            kind, _flags, body = other[0]
            if len(other) > 1:
                raise ConnectionError("unexpected packets right after CONNACK")
            if kind != wire.CONNACK:
                raise ConnectionError(f"expected CONNACK, got packet type {kind}")
            ack = wire.parse_connack(body, v5=v5)
            if ack.code != 0:
                raise ConnectionRefusedError(f"broker refused the connection (code {ack.code})")
            server_ka = ack.properties.get(wire.SERVER_KEEP_ALIVE)
            if isinstance(server_ka, int) and server_ka > 0:
                self.keepalive = server_ka
            sock.settimeout(max(1.0, self.keepalive / 2))
            return sock, decoder, ack.session_present, pubs
        except BaseException:
            sock.close()
            raise

    def _connect_once(self) -> bool:
        """Open a connection (``auto``: MQTT 5, else 3.1.1); True on success."""
        attempts = {"auto": [True, False], "5": [True], "311": [False]}[self.protocol]
        if self.protocol == "auto" and self.generation > 0:
            attempts = [self.v5]  # keep what the broker accepted the first time
        for v5 in attempts:
            try:
                sock, decoder, present, early = self._open(v5)
            except (OSError, wire.ProtocolError) as exc:  # ConnectionError is an OSError
                log.warning(
                    "MQTT connection failed",
                    extra={"broker": repr(self.broker), "v5": v5, "error": str(exc)[:200]},
                )
                continue
            self.v5 = v5
            self._decoder = decoder
            self._sock = sock
            self._last_tx = self._last_rx = time.monotonic()
            self.generation += 1
            self.connected.set()
            self.on_connect(present, self.generation)
            if early:
                self.on_publishes(early, self.generation)
            return True
        return False

    def start(self) -> None:
        """Connect (raises ConnectionError when the broker cannot be reached or refuses), then
        read in a background thread until :meth:`close`."""
        if not self._connect_once():
            raise ConnectionError(f"cannot connect to MQTT broker {self.broker!r}")
        self._thread = threading.Thread(target=self._loop, name="mqtt-session", daemon=True)
        self._thread.start()

    # -- sending --------------------------------------------------------------------------------
    def _send(self, data: bytes) -> bool:
        with self._send_lock:
            sock = self._sock
            if sock is None:
                return False
            try:
                sock.sendall(data)
            except OSError as exc:
                log.warning("MQTT send failed", extra={"error": str(exc)[:200]})
                self._drop(sock)
                return False
            self._last_tx = time.monotonic()
            return True

    def _next_pid(self) -> int:
        self._pid = self._pid % 65535 + 1
        return self._pid

    def subscribe(self, filters: list[str], *, qos: int = 1) -> bool:
        return self._send(wire.subscribe_packet(self._next_pid(), filters, qos=qos, v5=self.v5))

    def unsubscribe(self, filters: list[str]) -> bool:
        return self._send(wire.unsubscribe_packet(self._next_pid(), filters, v5=self.v5))

    def ack(self, packet_ids: list[int], generation: int) -> bool:
        """PUBACK the messages of connection ``generation`` (ignored after a reconnect: the
        broker sends those again)."""
        if not packet_ids or generation != self.generation:
            return False
        return self._send(wire.puback_packets(packet_ids))

    # -- receiving ------------------------------------------------------------------------------
    def _drop(self, sock: socket.socket) -> None:
        if self._sock is sock:
            self._sock = None
            self.connected.clear()
        with contextlib.suppress(OSError):
            sock.close()

    def _loop(self) -> None:
        delay = self.reconnect_delay[0]
        while not self._closing.is_set():
            sock = self._sock
            if sock is None:
                if self._closing.wait(delay):
                    return
                if self._connect_once():
                    delay = self.reconnect_delay[0]
                else:
                    delay = min(delay * 2, self.reconnect_delay[1])
                continue
            try:
                data = sock.recv(RECV_BYTES)
            except TimeoutError:
                if time.monotonic() - self._last_rx > 1.5 * self.keepalive:
                    # not even a PINGRESP: a half-open connection, TCP would take minutes
                    log.warning("no traffic from the broker, reconnecting")
                    self._drop(sock)
                elif time.monotonic() - self._last_tx >= self.keepalive / 2:
                    self._send(wire.PINGREQ_PACKET)
                continue
            except OSError as exc:
                data = b""
                if not self._closing.is_set():
                    log.warning("MQTT connection lost", extra={"error": str(exc)[:200]})
            if not data:
                self._drop(sock)
                if not self._closing.is_set():
                    log.warning("disconnected from broker, reconnecting")
                continue
            self._last_rx = time.monotonic()
            try:
                pubs, other = self._decoder.feed(data)
            except wire.ProtocolError as exc:
                log.error("malformed MQTT from the broker", extra={"error": str(exc)})
                self._drop(sock)
                continue
            for kind, _flags, body in other:
                self._control(sock, kind, body)
            if pubs:
                self.on_publishes(pubs, self.generation)
            if time.monotonic() - self._last_tx >= self.keepalive / 2:
                self._send(wire.PINGREQ_PACKET)

    def _control(self, sock: socket.socket, kind: int, body: bytes) -> None:
        if kind == wire.SUBACK:
            _pid, codes = wire.parse_ack_codes(body, v5=self.v5)
            refused = [c for c in codes if c >= 0x80]
            if refused:
                log.error("broker refused a subscription", extra={"codes": refused})
        elif kind == wire.DISCONNECT:
            log.warning("broker sent DISCONNECT", extra={"reason": body[:1].hex()})
            self._drop(sock)
        elif kind not in (wire.PINGRESP, wire.UNSUBACK):
            log.error("unexpected MQTT packet from the broker", extra={"type": kind})
            self._drop(sock)

    # -- closing --------------------------------------------------------------------------------
    def close(self, *, timeout: float = 5.0) -> None:
        """DISCONNECT cleanly (the session stays on the broker) and stop the thread."""
        self._closing.set()
        sock = self._sock
        if sock is not None:
            self._send(wire.DISCONNECT_PACKET)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            self._drop(sock)
        if self._thread is not None:
            self._thread.join(timeout)

    def kill(self) -> None:
        """Tests: drop the socket without DISCONNECT, as a crash would (then reconnect)."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"MqttSession({self.client_id!r}, {self.broker!r}, v5={self.v5})"

