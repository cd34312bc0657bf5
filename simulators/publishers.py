"""Transports: send a message stream over MQTT (paho-mqtt 2) and HTTP (httpx), on a clock.

The fleets' aiomqtt publisher is ``simulators.aiopublisher``; ``replay`` takes either.

The stream (``simulators.fleet``) says what to send and when, in simulated time; ``replay``
maps simulated time to wall time (``speed`` 1 = real time, 60 = sixty times faster, 0 = as
fast as possible) and hands each message to the sink for its transport. Nothing here changes a
payload, so a stream sends the same bytes whatever the transport or speed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

import httpx
import paho.mqtt.client as mqtt

from simulators.messages import Message


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """mqtt://[user:password@]host[:port] -> (host, port, user, password)."""
    u = urlparse(url if "://" in url else f"mqtt://{url}")
    return u.hostname or "127.0.0.1", u.port or 1883, u.username, u.password


class MqttSink(Protocol):
    """What ``replay`` needs of an MQTT publisher (``MqttPublisher``, ``AioMqttPublisher``)."""

    def publish(self, topic: str, payload: bytes, qos: int | None = None) -> None: ...

    def flush(self, timeout: float = 60.0) -> bool: ...


class MqttPublisher:
    """A paho-mqtt 2 client publishing with QoS 1 (or 0), many messages in flight.

    The scenario fleets publish through aiomqtt (``simulators.aiopublisher.AioMqttPublisher``).
    This paho client stays for the load mode's ``--client paho`` option: paho is the baseline
    against which the fast load client's headroom was measured (``simulators.fastmqtt``), and
    the comparison only means something if it stays the same client.

    ``publish`` does not block while fewer than ``max_inflight`` messages await their PUBACK;
    ``flush`` waits until every QoS 1 message sent so far is acknowledged.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "",
        qos: int = 1,
        max_inflight: int = 1000,
        mqtt5: bool = False,
        keepalive: int = 60,
    ) -> None:
        host, port, user, password = parse_mqtt_url(url)
        self.qos = qos
        self._client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        )
        if user:
            self._client.username_pw_set(user, password)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        self._connected = threading.Event()
        self._lock = threading.Condition()
        self.sent = 0
        self.acked = 0
        self.max_inflight = max_inflight
        self._client.connect(host, port, keepalive=keepalive)
        self._client.loop_start()
        if not self._connected.wait(10):
            self.close()
            raise ConnectionError(f"MQTT broker {host}:{port} did not accept the connection")

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        if not getattr(reason, "is_failure", False):
            self._connected.set()

    def _on_publish(
        self, client: Any, userdata: Any, mid: int, reason: Any = None, properties: Any = None
    ) -> None:
        with self._lock:
            self.acked += 1
            self._lock.notify_all()

    def publish(self, topic: str, payload: bytes, qos: int | None = None) -> None:
        qos = self.qos if qos is None else qos
        with self._lock:
            while self.sent - self.acked >= self.max_inflight:
                self._lock.wait(1.0)
        info = self._client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publish failed: {mqtt.error_string(info.rc)}")
        self.sent += 1

    def flush(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.acked < self.sent:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class HttpResult:
    status: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    failed: int = 0


class HttpPublisher:
    """POSTs NB-IoT platform pushes; retries (like the platforms do) on 5xx and network errors.

    ``urls`` maps a platform ("ctwing", "onenet") to its push endpoint URL.
    """

    def __init__(
        self,
        urls: dict[str, str],
        *,
        timeout: float = 10.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        client: httpx.Client | None = None,
    ) -> None:
        self.urls = urls
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = client or httpx.Client(timeout=timeout)
        self.result = HttpResult()

    def post(self, platform: str, body: bytes) -> int:
        url = self.urls[platform]
        for attempt in range(self.retries + 1):
            try:
                r = self._client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                if r.status_code < 500:
                    self.result.status[r.status_code] += 1
                    return r.status_code
            except httpx.TransportError:
                pass
            if attempt < self.retries:
                self.result.retries += 1
                time.sleep(self.backoff_s * 2**attempt)
        self.result.failed += 1
        return 0

    def close(self) -> None:
        self._client.close()


def default_http_urls(base: str, *, ctwing_key: str | None = None) -> dict[str, str]:
    """Push URLs under ``base``: the ingest API's NB-IoT endpoints
    (``/api/v1/ingest/ctwing?key=...`` and ``/api/v1/ingest/onenet``)."""
    base = base.rstrip("/")
    ctwing = f"{base}/api/v1/ingest/ctwing" + (f"?key={ctwing_key}" if ctwing_key else "")
    return {"ctwing": ctwing, "onenet": f"{base}/api/v1/ingest/onenet"}


@dataclass
class ReplayStats:
    messages: int = 0
    by_transport: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    late_s: float = 0.0  # worst lateness against the schedule

    @property
    def rate(self) -> float:
        return self.messages / self.wall_s if self.wall_s > 0 else 0.0


def replay(
    messages: Iterable[Message],
    *,
    speed: float,
    mqtt_pub: MqttSink | None = None,
    http_pub: HttpPublisher | None = None,
    topic_prefix: str = "",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayStats:
    """Send ``messages`` at their simulated times divided by ``speed`` (0 = no waiting).

    The first message sets the origin. Messages for a transport with no publisher are skipped
    (counted nowhere). ``topic_prefix`` is prepended to MQTT topics (test isolation).
    """
    stats = ReplayStats()
    t0_wall = clock()
    t0_sim: float | None = None
    for msg in messages:
        if t0_sim is None:
            t0_sim = msg.send_at
        if speed > 0:
            due = t0_wall + (msg.send_at - t0_sim) / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            else:
                stats.late_s = max(stats.late_s, -wait)
        if msg.transport == "mqtt" and mqtt_pub is not None:
            mqtt_pub.publish(topic_prefix + msg.target, msg.payload, msg.qos)
        elif msg.transport == "http" and http_pub is not None:
            http_pub.post(msg.target, msg.payload)
        else:
            continue
        stats.messages += 1
        stats.by_transport[msg.transport] += 1
    if mqtt_pub is not None:
        mqtt_pub.flush()
    stats.wall_s = clock() - t0_wall
    return stats
