"""TLS for the worker's MQTT session: a private CA and client certificates.

``mqtts://`` brokers are verified against the system's CAs, or only against
``WATERNET_MQTT_CA_FILE`` when it is set (a utility's own CA); ``WATERNET_MQTT_CERT_FILE`` and
``WATERNET_MQTT_KEY_FILE`` give the client certificate and its key for brokers that require one
(Mosquitto ``require_certificate true``). The host name in the URL must match the broker's
certificate. Files are read once, when the session is created, so a wrong path fails at start.
"""

from __future__ import annotations

import ssl

from waternet.config import MqttUrl


def client_context(broker: MqttUrl) -> ssl.SSLContext:
    """A client TLS context for ``broker`` (TLS 1.2 or later, certificate and host checked)."""
    ca = str(broker.ca_file) if broker.ca_file else None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if broker.cert_file:
        key = str(broker.key_file) if broker.key_file else None
        ctx.load_cert_chain(str(broker.cert_file), key)
    return ctx
