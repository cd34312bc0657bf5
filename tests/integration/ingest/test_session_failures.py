"""The worker's MQTT session when the broker says no, or says nonsense.

Refusals, DISCONNECT, refused subscriptions, the 3.1.1 fallback and Maximum Packet Size run
against real brokers (private Mosquitto processes configured by the test, the embedded amqtt
broker for 3.1.1). Truncated and illegal packets, which no real broker sends, come from a
scripted peer.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import mqtt5
import paho.mqtt.client as paho
import pytest

from tests.support.ingest import make_worker, wait_until
from tests.support.peers import CustomMosquitto, ScriptedPeer
from tests.support.services import ThreadBroker
from waternet.config import MqttUrl
from waternet.ingest.mqtt import wire as wire
from waternet.ingest.mqtt.session import (
    MAX_PACKET,
    ConnectRefused,
    MqttSession,
    SubscriptionRefused,
)

CONNACK_OK_V5 = mqtt5.ConnAckPacket().write()


class Recorder:
    def __init__(self) -> None:
        self.pubs: list[wire.Publish] = []
        self.connects: list[int] = []
        self.fatal: list[Exception] = []
        self.lock = threading.Lock()

    def session(self, url: str, *, filters: list[str] | None = None, **kw: object) -> MqttSession:
        def on_connect(present: bool, gen: int) -> None:
            self.connects.append(gen)
            if filters:
                s.subscribe(filters)

        def on_publishes(pubs: list[wire.Publish], gen: int) -> None:
            with self.lock:
                self.pubs += pubs

        options: dict = {"session_expiry": 60, "reconnect": (0.1, 0.5), "connect_timeout": 3.0}
        options.update(kw)
        s = MqttSession(
            MqttUrl(url),
            client_id=f"fail-{uuid.uuid4().hex[:8]}",
            on_connect=on_connect,
            on_publishes=on_publishes,
            on_fatal=self.fatal.append,
            **options,  # type: ignore[arg-type]
        )
        return s


@pytest.fixture
def closed_broker() -> Iterator[CustomMosquitto]:
    broker = CustomMosquitto("allow_anonymous false\n")
    yield broker
    broker.close()


@pytest.mark.parametrize(
    ("protocol", "code", "words"),
    [
        ("5", 0x87, "0x87 not authorized"),
        ("311", 5, "5 not authorized"),
        ("auto", 0x87, "0x87 not authorized"),
    ],
)
def test_connack_refusal_is_a_clear_error(
    closed_broker: CustomMosquitto, protocol: str, code: int, words: str
) -> None:
    session = Recorder().session(f"mqtt://127.0.0.1:{closed_broker.port}", protocol=protocol)
    with pytest.raises(ConnectRefused) as exc:
        session.start()
    assert exc.value.return_code == code and words in str(exc.value)
    assert not exc.value.wrong_version  # "auto" did not try 3.1.1 with bad credentials
    assert session.generation == 0 and not session.connected.is_set()


def test_worker_announces_its_inbox_as_receive_maximum(db_url: str, tmp_path: Path) -> None:
    worker = make_worker(db_url, "mqtt://127.0.0.1:1", tmp_path)
    try:
        connect, _n = mqtt5.read(memoryview(worker.session.connect_bytes(True)))
        assert isinstance(connect, mqtt5.ConnectPacket)
        assert connect.receive_max == worker.queue.maxsize == 5000  # make_worker's queue_max
        assert connect.max_packet_size == MAX_PACKET
        assert connect.session_expiry_interval == 120 and not connect.clean_start
    finally:
        worker.writer.close()


def test_auto_falls_back_to_311_on_a_broker_without_mqtt5() -> None:
    broker = ThreadBroker()  # amqtt: MQTT 3.1.1 only
    rec = Recorder()
    session = rec.session(broker.url, protocol="auto", filters=["fallback/+"])
    try:
        session.start()
        assert session.v5 is False and rec.connects == [1]
        assert session.subscribed.wait(10)
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        m = MqttUrl(broker.url)
        pub.connect(m.host, m.port)
        pub.loop_start()
        pub.publish("fallback/x", b"hello", qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        assert wait_until(lambda: bool(rec.pubs), 10, every=0.02)
        assert rec.pubs[0][:2] == ("fallback/x", b"hello") and rec.pubs[0][3] == 1
    finally:
        session.close()
        broker.stop()


def test_mosquitto_honours_our_maximum_packet_size(session_broker_url: str) -> None:
    prefix = f"maxsize-{uuid.uuid4().hex[:8]}"
    rec = Recorder()
    session = rec.session(
        session_broker_url, protocol="5", max_packet_size=2000, filters=[f"{prefix}/+"]
    )
    session.start()
    try:
        assert session.subscribed.wait(10)
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        m = MqttUrl(session_broker_url)
        pub.connect(m.host, m.port)
        pub.loop_start()
        pub.publish(f"{prefix}/big", b"x" * 5000, qos=1).wait_for_publish(10)
        pub.publish(f"{prefix}/small", b"y" * 100, qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        assert wait_until(lambda: bool(rec.pubs), 10, every=0.02)
        time.sleep(0.3)
        assert [p[0] for p in rec.pubs] == [f"{prefix}/small"]  # the broker dropped the big one
        assert rec.connects == [1]
    finally:
        session.close()


# -- what no broker sends: a scripted peer -----------------------------------------------------
def test_server_disconnect_is_logged_with_its_reason_and_reconnects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """(Mosquitto 2.0.11 closes a taken-over session without a DISCONNECT, so the peer sends
    one as a newer broker does.)"""
    taken = mqtt5.DisconnectPacket(reason_code=mqtt5.DisconnectReasonCode.SESSION_TAKEN_OVER)
    peer = ScriptedPeer([CONNACK_OK_V5 + taken.write(), CONNACK_OK_V5])
    rec = Recorder()
    session = rec.session(f"mqtt://127.0.0.1:{peer.port}", protocol="5")
    try:
        with caplog.at_level(logging.WARNING):
            session.start()
            assert wait_until(lambda: len(rec.connects) >= 2, 10, every=0.02), rec.connects
        assert any(
            "DISCONNECT: 0x8e session taken over" in r.getMessage() for r in caplog.records
        ), [r.getMessage() for r in caplog.records]
        assert session.connected.is_set() and session.fatal is None
    finally:
        session.close()
        peer.close()


@pytest.mark.parametrize(
    ("v5", "suback", "code"),
    [
        (True, mqtt5.SubAckPacket(1, [mqtt5.SubAckReasonCode.NOT_AUTHORIZED]).write(), 0x87),
        (False, b"\x90\x03\x00\x01\x80", 0x80),
    ],
)
def test_a_refused_subscription_is_fatal(v5: bool, suback: bytes, code: int) -> None:
    """(Mosquitto 2.0.11's acl_file grants every subscription and filters delivery instead, so
    the refusal comes from the scripted peer, written by mqtt5 for MQTT 5.)"""
    connack = CONNACK_OK_V5 if v5 else b"\x20\x02\x00\x00"
    peer = ScriptedPeer([connack + suback, connack])
    rec = Recorder()
    session = rec.session(
        f"mqtt://127.0.0.1:{peer.port}",
        protocol="5" if v5 else "311",
        filters=["waternet/v1/raw/+"],
    )
    try:
        session.start()
        assert wait_until(lambda: bool(rec.fatal), 10, every=0.02)
        [exc] = rec.fatal
        assert isinstance(exc, SubscriptionRefused) and exc.codes == [code]
        assert "waternet/v1/raw/+" in str(exc)
        assert session.fatal is exc and not session.subscribed.is_set()
        time.sleep(1.0)  # longer than the reconnect delay: it stays down
        assert rec.connects == [1] and not session.connected.is_set()
        assert wait_until(lambda: len(peer.received) == 1, 5, every=0.02)
        assert peer.received[0].startswith(
            wire.subscribe_packet(1, ["waternet/v1/raw/+"], qos=1, v5=v5)
        )
        assert peer.received[0].endswith(b"\xe0\x00")  # DISCONNECT, not silence
    finally:
        session.close()
        peer.close()


def test_worker_start_fails_when_the_broker_refuses_a_topic(db_url: str, tmp_path: Path) -> None:
    granted = mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE
    suback = mqtt5.SubAckPacket(
        1, [granted, mqtt5.SubAckReasonCode.NOT_AUTHORIZED, granted]
    ).write()
    peer = ScriptedPeer([CONNACK_OK_V5 + suback])
    worker = make_worker(db_url, f"mqtt://127.0.0.1:{peer.port}", tmp_path, group=None)
    worker.session.protocol = "5"
    try:
        with pytest.raises(SubscriptionRefused) as exc:
            worker.start(timeout=10)
        assert exc.value.codes == [1, 0x87, 1] and "waternet/v1/batch/+" in str(exc.value)
        assert worker.failed is exc.value
    finally:
        worker.writer.close()
        peer.close()


@pytest.mark.parametrize("connack", [b"\x20\x01\x00", b"\x20\x04\x00\x00\x05\x21", b"\x20\x00"])
def test_truncated_connack_is_a_protocol_error(connack: bytes) -> None:
    peer = ScriptedPeer([connack])
    session = Recorder().session(f"mqtt://127.0.0.1:{peer.port}", protocol="5")
    try:
        with pytest.raises(ConnectionError) as exc:
            session.start()
        assert isinstance(exc.value.__cause__, wire.ProtocolError)
    finally:
        peer.close()


def test_auto_tries_311_after_a_malformed_mqtt5_connack() -> None:
    peer = ScriptedPeer([b"\x20\x01\x00", b"\x20\x02\x00\x00"])
    rec = Recorder()
    session = rec.session(f"mqtt://127.0.0.1:{peer.port}", protocol="auto")
    try:
        session.start()
        assert session.v5 is False and rec.connects == [1]
        assert [c[8] if len(c) > 8 else None for c in peer.connects] == [5, 4]  # protocol level
    finally:
        session.close()
        peer.close()


@pytest.mark.parametrize(
    ("after_connack", "reason"),
    [
        (b"\x90\x01\x00", wire.MALFORMED),  # SUBACK shorter than its packet id
        (b"\xe0\x03\x8e\x05\x1f", wire.MALFORMED),  # DISCONNECT with cut properties
        (mqtt5.PubRelPacket(3).write(), wire.PROTOCOL_ERROR),  # QoS 2 flow: never used
        (wire.publish_packet("t", b"x" * 3000, qos=1, packet_id=1, v5=True), wire.PACKET_TOO_LARGE),
    ],
)
def test_bad_packets_disconnect_with_a_reason_and_reconnect(
    after_connack: bytes, reason: int
) -> None:
    peer = ScriptedPeer([CONNACK_OK_V5 + after_connack, CONNACK_OK_V5])
    rec = Recorder()
    session = rec.session(f"mqtt://127.0.0.1:{peer.port}", protocol="5", max_packet_size=2000)
    try:
        session.start()
        assert wait_until(lambda: len(rec.connects) >= 2, 10, every=0.02), rec.connects
        assert wait_until(lambda: len(peer.received) >= 1, 10, every=0.02)
        assert peer.received[0] == wire.disconnect_packet(reason, v5=True)
        assert rec.pubs == [] and session.connected.is_set()
    finally:
        session.close()
        peer.close()


def test_a_qos2_publish_is_a_protocol_error_never_a_puback() -> None:
    qos2 = mqtt5.PublishPacket("t/1", b"once", qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=9).write()
    qos1 = mqtt5.PublishPacket("t/1", b"ok", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=8).write()
    peer = ScriptedPeer([CONNACK_OK_V5 + qos1 + qos2, CONNACK_OK_V5])
    rec = Recorder()
    session = rec.session(f"mqtt://127.0.0.1:{peer.port}", protocol="5")
    try:
        session.start()
        assert wait_until(lambda: len(peer.received) >= 1, 10, every=0.02)
        sent = peer.received[0]
        assert sent == b"\xe0\x01\x82"  # DISCONNECT protocol error, nothing else
        assert b"\x40\x02\x00\x09" not in sent and b"\x50" not in sent  # no PUBACK/PUBREC
        assert all(qos < 2 for _t, _p, _m, qos in rec.pubs)
    finally:
        session.close()
        peer.close()
