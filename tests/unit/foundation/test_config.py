from __future__ import annotations

import pytest

from waternet.config import MqttUrl, load_settings
from waternet.errors import ConfigError


def test_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WATERNET_DATABASE_URL", "WATERNET_MQTT_URL", "WATERNET_LOG_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.database_url is None
    assert s.mqtt is None
    assert s.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("WATERNET_DATABASE_URL", "mysql://x"),
        ("WATERNET_MQTT_URL", "http://broker:1883"),
        ("WATERNET_MQTT_URL", "mqtt://:1883"),
        ("WATERNET_LOG_LEVEL", "LOUD"),
        ("WATERNET_TIMEZONE", "Mars/Olympus"),
        ("WATERNET_HTTP_PORT", "99999"),
    ],
)
def test_bad_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert var in str(info.value)


def test_mqtt_url_parts() -> None:
    m = MqttUrl("mqtt://ingest:s%40cret@broker.example:1884")
    assert (m.host, m.port, m.username, m.password, m.tls) == (
        "broker.example",
        1884,
        "ingest",
        "s@cret",
        False,
    )
    assert MqttUrl("mqtts://b").port == 8883
