"""Transports: HTTP pushes (mock transport), replay timing, and one quick Mosquitto test."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from simulators.fastmqtt import FastMqttPublisher
from simulators.fleet import FleetConfig, Stream, build_stream
from simulators.hydraulics import ScenarioResult
from simulators.load import LoadConfig, iter_load
from simulators.messages import Message
from simulators.publishers import (
    HttpPublisher,
    MqttPublisher,
    default_http_urls,
    parse_mqtt_url,
    replay,
)

from waternet.ingest.formats.mqtt import parse_message
from waternet.ingest.mqtt.wire import varint


def test_http_pushes_post_the_exact_bytes_and_retry_on_5xx(net3_stream: Stream) -> None:
    calls: list[tuple[str, bytes]] = []
    fail_once = {"n": 1}

    def handler(request: httpx.Request) -> httpx.Response:
        if fail_once["n"]:
            fail_once["n"] -= 1
            return httpx.Response(503)
        calls.append((str(request.url), request.content))
        return httpx.Response(200)

    urls = default_http_urls("http://ingest.test", ctwing_key="k1")
    pub = HttpPublisher(
        urls, backoff_s=0.0, client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    pushes = [m for m in net3_stream.messages if m.transport == "http"]
    stats = replay(pushes, speed=0, http_pub=pub)
    assert stats.messages == len(pushes) == len(calls)
    assert pub.result.retries == 1 and pub.result.status[200] == len(pushes)
    assert [body for _, body in calls] == [m.payload for m in pushes]
    assert calls[0][0].startswith("http://ingest.test/api/v1/ingest/")
    assert any(url.endswith("/api/v1/ingest/ctwing?key=k1") for url, _ in calls)


def test_replay_follows_simulated_time_divided_by_speed() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(dt: float) -> None:
        slept.append(dt)
        now[0] += dt

    msgs = [
        Message(
            seq=i,
            send_at=1000.0 + 60 * i,
            transport="http",
            kind="ctwing",
            target="ctwing",
            payload=b"{}",
        )
        for i in range(4)
    ]

    class Sink:
        def post(self, platform: str, body: bytes) -> int:
            return 200

    stats = replay(
        msgs,
        speed=60,
        http_pub=Sink(),
        sleep=sleep,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    assert slept == pytest.approx([1.0, 1.0, 1.0])  # a simulated minute per wall second
    assert stats.messages == 4


def test_mqtt_url_andvarint() -> None:
    assert parse_mqtt_url("mqtt://u:p@broker:1884") == ("broker", 1884, "u", "p")
    assert parse_mqtt_url("127.0.0.1") == ("127.0.0.1", 1883, None, None)
    assert varint(0) == b"\x00" and varint(127) == b"\x7f"
    assert varint(128) == b"\x80\x01" and varint(16383) == b"\xff\x7f"


def test_load_stream_is_valid_telemetry() -> None:
    cfg = LoadConfig(meters=250, pressure=30, zones=3, batch=100, start_ms=1_740_000_000_000)
    msgs = list(iter_load(cfg, rounds=2))
    assert sum(n for _, _, n in msgs) == 2 * 280
    codes: set[str] = set()
    for topic, payload, n in msgs:
        res = parse_message(topic, payload, max_bytes=1 << 20)
        assert not res.rejects and len(res.readings) == n
        codes.update(r.sensor_code for r in res.readings)
    assert len(codes) == 280
    single = list(
        iter_load(
            LoadConfig(meters=3, pressure=2, zones=1, batch=1, start_ms=1_740_000_000_000), rounds=3
        )
    )
    stamps: dict[str, list[float]] = {}
    for topic, payload, _ in single:
        r = parse_message(topic, payload, max_bytes=1024).readings[0]
        stamps.setdefault(r.sensor_code, []).append(r.ts.timestamp())
    assert all(len(v) == 3 and v == sorted(set(v)) for v in stamps.values())


@pytest.mark.mqtt
def test_publish_to_local_mosquitto(net3_burst: ScenarioResult, mqtt_url: str) -> None:
    """Paho fleet replay and the fast load client, counted by a paho subscriber.

    On the tests' broker (``mqtt_url``, waternet's queue limits): the stock Mosquitto on 1883
    queues at most 1,000 messages for a subscriber and drops the rest silently, which lost
    messages here whenever the subscriber's thread fell behind 2,000 fast publishes."""
    host, port, _user, _password = parse_mqtt_url(mqtt_url)
    prefix = f"wnsim-test-{uuid.uuid4().hex[:10]}/"
    received: list[tuple[str, bytes]] = []
    ready = threading.Event()
    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)

    def on_connect(c: Any, u: Any, f: Any, rc: Any, p: Any = None) -> None:
        c.subscribe(prefix + "#", qos=1)
        ready.set()

    def on_message(c: Any, u: Any, msg: Any) -> None:
        received.append((msg.topic, bytes(msg.payload)))

    sub.on_connect = on_connect
    sub.on_message = on_message
    sub.connect(host, port)
    sub.loop_start()
    try:
        assert ready.wait(10)
        time.sleep(0.3)  # SUBACK
        stream: Stream = build_stream(net3_burst, FleetConfig(seed=1))
        mqtt_msgs = [m for m in stream.messages if m.transport == "mqtt"][:2000]
        pub = MqttPublisher(mqtt_url, max_inflight=200)
        stats = replay(mqtt_msgs, speed=0, mqtt_pub=pub, topic_prefix=prefix)
        pub.close()
        assert stats.messages == len(mqtt_msgs) and pub.acked == len(mqtt_msgs)
        fast = FastMqttPublisher(mqtt_url, qos=1, max_inflight=500)
        load = list(
            iter_load(
                LoadConfig(
                    meters=900, pressure=100, zones=2, batch=10, topic_prefix=prefix + "load/"
                ),
                rounds=1,
            )
        )
        for topic, payload, _ in load:
            fast.publish(topic, payload)
        assert fast.flush(30)
        fast.close()
        assert fast.acked == fast.sent == len(load) == 100
        deadline = time.monotonic() + 20
        while len(received) < len(mqtt_msgs) + len(load) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    fleet_got = [(t, p) for t, p in received if not t.startswith(prefix + "load/")]
    assert sorted(fleet_got) == sorted((prefix + m.target, m.payload) for m in mqtt_msgs)
    assert sum(1 for t, _ in received if t.startswith(prefix + "load/")) == len(load)
