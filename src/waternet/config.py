"""Settings, read through :func:`get_settings` only (never at import time).

Every setting has the prefix ``WATERNET_``. A bad value fails at start with a message that names
the setting (see :func:`load_settings`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from waternet.errors import ConfigError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class MqttUrl:
    """A parsed ``mqtt://user:pass@host:port`` URL, with the TLS files for ``mqtts://``."""

    def __init__(
        self,
        url: str,
        *,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError("scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("a host is required, e.g. mqtt://127.0.0.1:1883")
        self.url = url
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        self.port = port or (8883 if self.tls else 1883)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        if (ca_file or cert_file or key_file) and not self.tls:
            raise ValueError("TLS files are set but the URL is not mqtts://")
        if key_file and not cert_file:
            raise ValueError("a client key needs its certificate")
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file

    def __repr__(self) -> str:
        return f"MqttUrl({self.host}:{self.port})"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WATERNET_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset: the demo starts an embedded server"
    )
    mqtt_url: str | None = Field(
        default=None, description="mqtt://user:pass@host:port; unset: in-process broker"
    )
    mqtt_ca_file: Path | None = Field(
        default=None, description="mqtts://: CA certificate(s) to verify the broker (PEM)"
    )
    mqtt_cert_file: Path | None = Field(
        default=None, description="mqtts://: client certificate (PEM), if the broker wants one"
    )
    mqtt_key_file: Path | None = Field(
        default=None, description="mqtts://: the client certificate's private key (PEM)"
    )
    state_dir: Path = Field(default=Path(".waternet"), description="Local state (spool, data)")
    log_level: LogLevel = "INFO"
    log_json: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    timezone: str = Field(default="Asia/Shanghai", description="The utility's local time zone")
    jwt_secret: str | None = Field(
        default=None, description="HS256 secret for tokens; unset: generated under state_dir"
    )
    token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    db_pool_max: int = Field(default=10, ge=1, le=200)

    # ingest
    ingest_batch_size: int = Field(default=5000, ge=1, le=100_000, description="Rows per commit")
    ingest_batch_ms: int = Field(default=50, ge=1, le=10_000, description="Max batch age (ms)")
    ingest_queue_max: int = Field(default=20_000, ge=100, description="Messages held in memory")
    ingest_max_payload: int = Field(default=262_144, ge=1024, description="Bytes per message")
    ingest_future_margin_s: int = Field(default=300, ge=0, description="Accepted clock skew (s)")
    ingest_max_age_days: int = Field(default=35, ge=1, description="Older readings quarantined")
    ingest_client_id: str = Field(default="waternet-ingest-1", description="MQTT session id")
    ingest_share_group: str = Field(default="waternet-ingest", description="Shared-sub group")
    spool_max_mb: int = Field(default=1024, ge=1, description="Local spool bound (MiB)")
    onenet_token: str | None = Field(default=None, description="OneNET push token")

    # time-series lifecycle (docs/data-lifecycle.md)
    retention_raw_days: int = Field(default=400, ge=1, description="Raw readings kept (days)")
    retention_1m_days: int = Field(default=730, ge=0, description="1-minute rollups (0: forever)")
    retention_15m_days: int = Field(default=1825, ge=0, description="15-minute rollups")
    retention_1h_days: int = Field(default=3650, ge=0, description="Hourly rollups")
    retention_1d_days: int = Field(default=0, ge=0, description="Daily rollups (0: forever)")
    rollup_refresh_seconds: float = Field(default=5.0, gt=0, description="Refresh interval")
    rollup_refresh_batch: int = Field(default=50_000, ge=100, description="Keys per refresh")
    maintenance_hours: float = Field(default=6.0, gt=0, description="Retention/partition job")
    ctwing_key: str | None = Field(default=None, description="Key in CTWing push URLs ?key=")

    # files the service reads (defaults: found from the installed package or the repository)
    sensors_dir: Path | None = Field(default=None, description="The sensor catalogue folder")
    node_modules: Path | None = Field(
        default=None, description="npm's node_modules holding the map's browser libraries"
    )

    # jobs process (waternet jobs)
    jobs_http_port: int = Field(default=8001, ge=0, le=65535, description="Jobs health port")
    jobs_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait before retrying a failing job"
    )

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        MqttUrl(v)
        return v

    @field_validator("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
    @classmethod
    def _check_tls_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is None or str(v) == "":
            return None
        if not v.is_file():
            raise ValueError(f"no such file: {v}")
        url = info.data.get("mqtt_url")
        if url and not url.startswith("mqtts://"):
            raise ValueError("TLS files need WATERNET_MQTT_URL=mqtts://...")
        if info.field_name == "mqtt_key_file" and not info.data.get("mqtt_cert_file"):
            raise ValueError("a client key needs WATERNET_MQTT_CERT_FILE")
        return v

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @property
    def mqtt(self) -> MqttUrl | None:
        if not self.mqtt_url:
            return None
        return MqttUrl(
            self.mqtt_url,
            ca_file=self.mqtt_ca_file,
            cert_file=self.mqtt_cert_file,
            key_file=self.mqtt_key_file,
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; errors name the ``WATERNET_`` variable at fault."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "WATERNET_" + str(err["loc"][0]).upper() if err["loc"] else "WATERNET_?"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("bad settings: " + "; ".join(problems), details=problems) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once, on first use)."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the demo launcher change the environment)."""
    get_settings.cache_clear()
