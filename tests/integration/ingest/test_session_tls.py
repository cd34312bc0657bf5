"""The worker's MQTT session over TLS with a private CA and a client certificate, against a
Mosquitto TLS listener that requires certificates (both made here with the openssl CLI)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.support.ingest import wait_until
from tests.support.peers import CustomMosquitto
from tests.support.services import unavailable
from waternet.config import MqttUrl, load_settings
from waternet.errors import ConfigError
from waternet.ingest.mqtt import wire as wire
from waternet.ingest.mqtt.session import MqttSession


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> dict[str, str]:
    """CA, server certificate for 127.0.0.1/localhost, client certificate: PEM texts."""
    if shutil.which("openssl") is None:
        unavailable("openssl", "not installed")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=waternet test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "ingest-worker-1")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        extra = ["-extfile", "san.ext"] if name == "server" else []
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.crt",
            *extra,
            cwd=d,
        )
    return {
        n: (d / n).read_text()
        for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
    }


TLS_CONF = """allow_anonymous true
cafile @DIR@/ca.crt
certfile @DIR@/server.crt
keyfile @DIR@/server.key
require_certificate true
tls_version tlsv1.2
"""


@pytest.fixture(scope="module")
def tls_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CustomMosquitto, Path]]:
    d = tmp_path_factory.mktemp("pki")
    broker = CustomMosquitto(TLS_CONF, make_pki(d))
    yield broker, d
    broker.close()


def test_session_over_tls_with_a_client_certificate(
    tls_broker: tuple[CustomMosquitto, Path],
) -> None:
    broker, pki = tls_broker
    url = f"mqtts://127.0.0.1:{broker.port}"
    s = load_settings(
        mqtt_url=url,
        mqtt_ca_file=str(pki / "ca.crt"),
        mqtt_cert_file=str(pki / "client.crt"),
        mqtt_key_file=str(pki / "client.key"),
    )
    assert s.mqtt is not None and s.mqtt.tls and s.mqtt.cert_file == pki / "client.crt"
    topic = f"tls-{uuid.uuid4().hex[:8]}/x"
    got: list[wire.Publish] = []
    subscribed = threading.Event()
    session = MqttSession(
        s.mqtt,
        client_id=f"tls-{uuid.uuid4().hex[:8]}",
        session_expiry=60,
        on_connect=lambda present, gen: [session.subscribe([topic]), None][1],
        on_publishes=lambda pubs, gen: got.extend(pubs),
    )
    session.start()
    try:
        assert session.subscribed.wait(10)
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        pub.tls_set(
            ca_certs=str(pki / "ca.crt"),
            certfile=str(pki / "client.crt"),
            keyfile=str(pki / "client.key"),
        )
        pub.on_connect = lambda *a: subscribed.set()
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        assert subscribed.wait(10)
        pub.publish(topic, b"over tls", qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        assert wait_until(lambda: bool(got), 10, every=0.02)
        assert got[0][:2] == (topic, b"over tls") and got[0][3] == 1
    finally:
        session.close()


def test_tls_without_the_client_certificate_or_the_ca_is_refused(
    tls_broker: tuple[CustomMosquitto, Path],
) -> None:
    broker, pki = tls_broker
    url = f"mqtts://127.0.0.1:{broker.port}"
    for m in (
        MqttUrl(url, ca_file=pki / "ca.crt"),  # no client certificate: the broker says no
        MqttUrl(url),  # the system CAs do not know the private CA: we say no
    ):
        session = MqttSession(
            m,
            client_id="tls-refused",
            protocol="5",
            connect_timeout=3,
            on_connect=lambda present, gen: None,
            on_publishes=lambda pubs, gen: None,
        )
        with pytest.raises(ConnectionError) as exc:
            session.start()
        assert isinstance(exc.value.__cause__, ssl.SSLError | ConnectionError | OSError)
        assert session.generation == 0


def test_tls_settings_are_checked_at_start(tls_broker: tuple[CustomMosquitto, Path]) -> None:
    _, pki = tls_broker
    ca = str(pki / "ca.crt")
    with pytest.raises(ConfigError, match="WATERNET_MQTT_CA_FILE"):
        load_settings(mqtt_url="mqtt://127.0.0.1:1883", mqtt_ca_file=ca)  # not mqtts://
    with pytest.raises(ConfigError, match="WATERNET_MQTT_KEY_FILE"):
        load_settings(mqtt_url="mqtts://h:8883", mqtt_key_file=str(pki / "client.key"))
    with pytest.raises(ConfigError, match="WATERNET_MQTT_CERT_FILE"):
        load_settings(mqtt_url="mqtts://h:8883", mqtt_cert_file=str(pki / "missing.crt"))
