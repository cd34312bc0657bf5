"""The fleets' aiomqtt publisher against the real broker: every message arrives, also when the
broker drops the connection mid-stream (a second client takes over the client id)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from simulators.aiopublisher import AioMqttPublisher
from simulators.fleet import FleetConfig, build_stream
from simulators.hydraulics import ScenarioResult
from simulators.publishers import parse_mqtt_url, replay

pytestmark = pytest.mark.mqtt


class Counter_:
    """A paho subscriber counting what arrives under ``prefix``."""

    def __init__(self, url: str, prefix: str) -> None:
        host, port, user, password = parse_mqtt_url(url)
        self.got: Counter[tuple[str, bytes]] = Counter()
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(user, password)

        def on_connect(c: Any, u: Any, f: Any, rc: Any, p: Any = None) -> None:
            c.subscribe(prefix + "#", qos=1)

        def on_message(c: Any, u: Any, msg: Any) -> None:
            with self._lock:
                self.got[(msg.topic, bytes(msg.payload))] += 1

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(30), "no SUBACK"

    def wait_for(self, want: set[tuple[str, bytes]], seconds: float = 60) -> set[tuple[str, bytes]]:
        """What of ``want`` is still missing after waiting up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            with self._lock:
                missing = want - set(self.got)
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def prefix() -> str:
    return f"wnsim-aio-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def sub(mqtt_url: str, prefix: str) -> Iterator[Counter_]:
    s = Counter_(mqtt_url, prefix)
    yield s
    s.close()


def test_fleet_replay_arrives_exactly(
    mqtt_url: str, prefix: str, sub: Counter_, net3_burst: ScenarioResult
) -> None:
    msgs = [
        m for m in build_stream(net3_burst, FleetConfig(seed=1)).messages if m.transport == "mqtt"
    ][:1500]
    pub = AioMqttPublisher(mqtt_url, client_id=f"wnsim-aio-{uuid.uuid4().hex[:8]}", max_inflight=50)
    try:
        stats = replay(msgs, speed=0, mqtt_pub=pub, topic_prefix=prefix)
        assert pub.flush(0)  # replay flushed already
    finally:
        pub.close()
    assert stats.messages == pub.sent == pub.acked == len(msgs)
    assert pub.connections == 1 and pub.resent == 0
    want = Counter((prefix + m.target, m.payload) for m in msgs)
    assert not sub.wait_for(set(want))
    assert sub.got == want  # no connection loss, so no duplicate either


def test_nothing_lost_when_the_broker_drops_the_connection(
    mqtt_url: str, prefix: str, sub: Counter_
) -> None:
    """Mosquitto (and amqtt) drop a client when another connects with its client id: the
    publisher reconnects and publishes its unacknowledged messages again. The take-overs come
    from another thread while the publisher streams, so its window is full of messages awaiting
    their PUBACK when the broker closes the connection."""
    host, port, user, password = parse_mqtt_url(mqtt_url)
    cid = f"wnsim-aio-{uuid.uuid4().hex[:8]}"
    n = 3000
    want = {(f"{prefix}m/{i % 7}", f"{i}".encode()) for i in range(n)}
    pub = AioMqttPublisher(mqtt_url, client_id=cid, max_inflight=100)
    errors: list[BaseException] = []

    def take_overs() -> None:
        try:
            for at in (n // 3, 2 * n // 3):
                while pub.sent < at:
                    time.sleep(0.001)
                _take_over(host, port, user, password, cid)
        except BaseException as exc:
            errors.append(exc)

    intruder = threading.Thread(target=take_overs)
    intruder.start()
    try:
        for i in range(n):
            pub.publish(f"{prefix}m/{i % 7}", f"{i}".encode())
        intruder.join()
        assert not errors, errors
        assert pub.flush(120), (pub.sent, pub.acked)
        assert pub.sent == pub.acked == n
        assert pub.connections >= 3, pub.connections  # each take-over cost a connection
        assert pub.resent > 0  # the retry path was taken
    finally:
        intruder.join()
        pub.close()
    assert not sub.wait_for(want)
    assert set(sub.got) == want
    # at least once: only a message published again can arrive twice
    assert sum(sub.got.values()) - n <= pub.resent


def _take_over(host: str, port: int, user: str | None, password: str | None, cid: str) -> None:
    intruder = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=cid)
    if user:
        intruder.username_pw_set(user, password)
    accepted = threading.Event()
    intruder.on_connect = lambda *a: accepted.set()
    intruder.connect(host, port)
    intruder.loop_start()
    try:
        assert accepted.wait(30), "the intruder was not accepted"
    finally:
        intruder.disconnect()
        intruder.loop_stop()


def test_constructor_raises_when_no_broker_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        AioMqttPublisher(f"mqtt://127.0.0.1:{port}", timeout=5)
