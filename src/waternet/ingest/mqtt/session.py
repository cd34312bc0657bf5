"""The ingest worker's MQTT connection: a QoS 1 subscriber with manual acknowledgement.

Why not paho-mqtt: paho 2 has ``manual_ack``, and the worker used it, but it spends tens of
microseconds of Python per message (a packet object, a message object, a callback, a queued
PUBACK and a wake-up of its network thread each), which capped one worker near 10,000 single
readings a second on the benchmark machine. This session reads the socket in large chunks,
decodes every complete PUBLISH with :mod:`waternet.ingest.mqtt.wire` and hands them over as one
list; the writer acknowledges a committed batch with one buffer of PUBACKs.

What it does: MQTT 5 (persistent session with an expiry, Receive Maximum, Maximum Packet Size)
or 3.1.1 (clean session off), ``auto`` trying 5 then 3.1.1 when the broker does not speak 5;
TLS for ``mqtts://`` with a private CA and client certificates (:mod:`waternet.ingest.mqtt.tls`);
keep-alive pings; reconnection with back-off, the caller being told each time
(``on_connect``) so that it subscribes again; acknowledgements of an earlier connection dropped
(the broker redelivers those messages: QoS 1 is at least once, and storage is idempotent).

Failures, each with its reason code in words (:func:`waternet.ingest.mqtt.reasons.reason_name`):

* CONNACK refusal: :class:`ConnectRefused` from :meth:`start`; while reconnecting, logged as an
  error and retried with back-off. Only "unsupported protocol version" (or a 3.1.1 broker's
  answer to an MQTT 5 CONNECT) makes ``auto`` fall back to 3.1.1; bad credentials do not.
* broker DISCONNECT (e.g. 0x8E session taken over: another client uses this client id): logged
  with its reason, then reconnect.
* a SUBACK refusing any filter (reason >= 0x80) is fatal: the session sends DISCONNECT, stops
  reconnecting, records :attr:`fatal` and calls ``on_fatal`` - it never runs unsubscribed.
* malformed or oversized packets (over :attr:`max_packet_size`, announced to the broker as the
  MQTT 5 Maximum Packet Size): :class:`mqttwire.ProtocolError`, DISCONNECT with reason 0x81,
  0x82 or 0x95 (MQTT 5), reconnect. The reading thread never dies of a bad packet.
* QoS 2 is refused: the session subscribes with maximum QoS 1, so the broker downgrades; a QoS 2
  PUBLISH (which a broker must not send) is a protocol error (DISCONNECT 0x82, reconnect) and is
  never answered with a PUBACK, so the exactly-once handshake is never half done.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

from waternet.config import MqttUrl
from waternet.ingest.mqtt import wire as wire
from waternet.ingest.mqtt.reasons import ConnectRefused, SubscriptionRefused
from waternet.ingest.mqtt.tls import client_context

log = logging.getLogger(__name__)
RECV_BYTES = 1 << 18
MAX_PACKET = (1 << 20) + 1024  # the broker's max_packet_size (1 MiB), plus the headers
OnPublishes = Callable[[list[wire.Publish], int], None]
OnConnect = Callable[[bool, int], None]
OnFatal = Callable[[Exception], None]


class _NoConnAck(ConnectionError):
    """Connected, but no CONNACK: the broker closed or stayed silent (some 3.1.1 brokers do
    either on an MQTT 5 CONNECT)."""


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
        receive_maximum: int = 65535,
        max_packet_size: int = MAX_PACKET,
        on_fatal: OnFatal | None = None,
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
        self.receive_maximum = receive_maximum
        self.max_packet_size = max_packet_size
        self.on_fatal = on_fatal
        self.fatal: Exception | None = None
        self.subscribed = threading.Event()  # the latest SUBACK granted every filter
        self._tls = client_context(broker) if broker.tls else None
        self._subscribing: dict[int, list[str]] = {}
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
        self._decoder = self._new_decoder(self.v5)

    def _new_decoder(self, v5: bool) -> wire.Decoder:
        return wire.Decoder(v5=v5, max_packet=self.max_packet_size, max_qos=1)

    def connect_bytes(self, v5: bool) -> bytes:
        """The CONNECT this session sends."""
        b = self.broker
        return wire.connect_packet(
            client_id=self.client_id,
            v5=v5,
            clean_start=False,
            keepalive=self.keepalive,
            username=b.username,
            password=b.password,
            session_expiry=self.session_expiry,
            receive_maximum=self.receive_maximum,
            max_packet_size=self.max_packet_size,
        )

    # -- connecting -----------------------------------------------------------------------------
    def _open(self, v5: bool) -> tuple[socket.socket, bool]:
        """Connect and read the CONNACK (only it: what follows is the reading loop's); returns
        the socket and whether the broker kept the session."""
        b = self.broker
        sock = socket.create_connection((b.host, b.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=b.host)
            sock.sendall(self.connect_bytes(v5))
            deadline = time.monotonic() + self.connect_timeout

            def read(n: int) -> bytes:
                data = b""
                while len(data) < n:
                    sock.settimeout(max(0.1, deadline - time.monotonic()))
                    try:
                        part = sock.recv(n - len(data))
                    except TimeoutError:
                        raise _NoConnAck("no CONNACK from the broker") from None
                    if not part:
                        raise _NoConnAck("broker closed the connection before CONNACK")
                    data += part
                return data

            first = read(1)[0]
            if first != wire.CONNACK << 4:
                raise wire.ProtocolError(f"expected CONNACK, got first byte 0x{first:02x}")
            length, shift = 0, 0
            while True:
                byte = read(1)[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
                if shift > 14:
                    raise wire.ProtocolError("CONNACK longer than 2 MiB")
            ack = wire.parse_connack(read(length), v5=v5)
            if ack.code != 0:
                raise ConnectRefused(
                    ack.code, v5=v5, reason_string=ack.properties.get(wire.REASON_STRING)
                )
            server_ka = ack.properties.get(wire.SERVER_KEEP_ALIVE)
            if isinstance(server_ka, int) and server_ka > 0:
                self.keepalive = server_ka
            sock.settimeout(max(1.0, self.keepalive / 2))
            return sock, ack.session_present
        except BaseException:
            sock.close()
            raise

    def _connect_once(self) -> None:
        """Open a connection (``auto``: MQTT 5, then 3.1.1 if the broker does not speak 5);
        raises the failure (OSError, ProtocolError) otherwise."""
        attempts = {"auto": [True, False], "5": [True], "311": [False]}[self.protocol]
        if self.protocol == "auto" and self.generation > 0:
            attempts = [self.v5]  # keep what the broker accepted the first time
        for n, v5 in enumerate(attempts):
            try:
                sock, present = self._open(v5)
            except (OSError, wire.ProtocolError) as exc:  # ConnectionError is an OSError
                log.log(
                    logging.ERROR if isinstance(exc, ConnectRefused) else logging.WARNING,
                    "MQTT connection failed: %s",
                    str(exc)[:200],
                    extra={"broker": repr(self.broker), "v5": v5, "error": str(exc)[:200]},
                )
                speaks_5 = not (
                    isinstance(exc, wire.ProtocolError | _NoConnAck)
                    or (isinstance(exc, ConnectRefused) and exc.wrong_version)
                )
                if n + 1 < len(attempts) and not speaks_5:
                    continue
                raise
            self.v5 = v5
            self._decoder = self._new_decoder(v5)
            self._subscribing.clear()
            self.subscribed.clear()
            self._sock = sock
            self._last_tx = self._last_rx = time.monotonic()
            self.generation += 1
            self.connected.set()
            self.on_connect(present, self.generation)  # redeliveries follow, in the loop
            return

    def start(self) -> None:
        """Connect (raises ConnectionError - :class:`ConnectRefused` for a refusal - when the
        broker cannot be reached, refuses or answers nonsense), then read in a background
        thread until :meth:`close`."""
        try:
            self._connect_once()
        except ConnectRefused:
            raise
        except wire.ProtocolError as exc:
            raise ConnectionError(f"malformed answer from {self.broker!r}: {exc}") from exc
        except OSError as exc:
            raise ConnectionError(f"cannot connect to MQTT broker {self.broker!r}: {exc}") from exc
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
        """SUBSCRIBE with maximum QoS ``qos`` (0 or 1: QoS 2 is refused, see above); its
        SUBACK sets :attr:`subscribed`, or is fatal when it refuses a filter."""
        if qos not in (0, 1):
            raise ValueError("the session subscribes with QoS 0 or 1")
        pid = self._next_pid()
        self._subscribing[pid] = list(filters)
        return self._send(wire.subscribe_packet(pid, filters, qos=qos, v5=self.v5))

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
                try:
                    self._connect_once()
                    delay = self.reconnect_delay[0]
                except (OSError, wire.ProtocolError):  # logged by _connect_once
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
                for kind, _flags, body in other:
                    self._control(sock, kind, body)
            except wire.ProtocolError as exc:
                log.error(
                    "MQTT protocol error from the broker: %s",
                    exc,
                    extra={"error": str(exc), "reason": wire.reason_name(exc.reason, v5=True)},
                )
                self._send(wire.disconnect_packet(exc.reason, v5=self.v5))
                self._drop(sock)
                continue
            if self._sock is not sock:  # DISCONNECT or a refused SUBACK: nothing to deliver
                continue
            if pubs:
                self.on_publishes(pubs, self.generation)
            if time.monotonic() - self._last_tx >= self.keepalive / 2:
                self._send(wire.PINGREQ_PACKET)

    def _control(self, sock: socket.socket, kind: int, body: bytes) -> None:
        v5 = self.v5
        if kind == wire.SUBACK:
            pid, codes = wire.parse_ack_codes(body, v5=v5)
            filters = self._subscribing.pop(pid, [])
            if any(c >= 0x80 for c in codes) or len(codes) != len(filters):
                self._refused(SubscriptionRefused(filters, codes, v5=v5))
            elif not self._subscribing:
                self.subscribed.set()
        elif kind == wire.DISCONNECT:
            code, props = wire.parse_disconnect(body, v5=v5)
            reason = wire.reason_name(code, v5=v5)
            log.log(
                logging.ERROR if code == 0x8E else logging.WARNING,
                "broker sent DISCONNECT: %s%s, reconnecting",
                reason,
                " (another client connected with this client id)" if code == 0x8E else "",
                extra={
                    "reason": reason,
                    "reason_string": props.get(wire.REASON_STRING),
                    "server_reference": props.get(wire.SERVER_REFERENCE),
                },
            )
            self._drop(sock)
        elif kind not in (wire.PINGRESP, wire.UNSUBACK):
            raise wire.ProtocolError(f"unexpected packet type {kind}", wire.PROTOCOL_ERROR)

    def _refused(self, exc: SubscriptionRefused) -> None:
        """A refused subscription: stop for good (the worker must not run unsubscribed)."""
        log.critical("%s: stopping the MQTT session", exc, extra={"codes": exc.codes})
        self.fatal = exc
        self._closing.set()
        sock = self._sock
        if sock is not None:
            self._send(wire.DISCONNECT_PACKET)
            self._drop(sock)
        if self.on_fatal is not None:
            self.on_fatal(exc)

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
