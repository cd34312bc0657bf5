"""The worker's MQTT session against a real broker: a half-open link is noticed and replaced."""

from __future__ import annotations

import uuid

from tests.support.ingest import TcpProxy, wait_until
from waternet.config import MqttUrl
from waternet.ingest.mqtt.session import MqttSession


def test_half_open_connection_is_detected_and_replaced(session_broker_url: str) -> None:
    broker = MqttUrl(session_broker_url)
    proxy = TcpProxy(broker.host, broker.port)
    connects: list[int] = []
    session = MqttSession(
        MqttUrl(f"mqtt://127.0.0.1:{proxy.port}"),
        client_id=f"half-open-{uuid.uuid4().hex[:8]}",
        session_expiry=60,
        keepalive=2,
        on_publishes=lambda pubs, gen: None,
        on_connect=lambda present, gen: connects.append(gen),
        reconnect=(0.2, 1.0),
    )
    try:
        session.start()
        assert connects == [1]
        proxy.freeze()  # no FIN, no error: only the missing PINGRESPs tell
        assert wait_until(lambda: len(connects) >= 2, 20, every=0.1), connects
        assert session.connected.is_set()
    finally:
        session.close()
        proxy.close()
