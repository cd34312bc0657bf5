"""Use cases of the ingest domain: platform pushes and the writer and policy the workers use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from waternet.config import Settings
from waternet.errors import ValidationFailed
from waternet.ingest.pipeline import Incoming, Policy
from waternet.ingest.writer import StoreResult, Writer


def make_policy(settings: Settings) -> Policy:
    return Policy(
        max_payload=settings.ingest_max_payload,
        future_margin=timedelta(seconds=settings.ingest_future_margin_s),
        max_age=timedelta(days=settings.ingest_max_age_days),
        meter_tz=settings.tz,
        onenet_token=settings.onenet_token,
    )


def make_writer(
    settings: Settings, *, name: str = "ingest", application_name: str = "waternet-ingest"
) -> Writer:
    if not settings.database_url:
        raise ValidationFailed("WATERNET_DATABASE_URL is required for ingest")
    return Writer(
        settings.database_url,
        policy=make_policy(settings),
        spool_dir=settings.state_dir / "spool" / name,
        spool_max_bytes=settings.spool_max_mb * 1024 * 1024,
        application_name=application_name,
    )


# --- platform pushes (HTTP) ------------------------------------------------------------------


def store_push(writer: Writer, *, platform: str, path: str, body: bytes) -> StoreResult:
    """Make one platform push durable; the HTTP layer answers 200 only after this returns."""
    return writer.store(
        [Incoming(source=platform, topic=path, payload=body, received_at=datetime.now(UTC))]
    )
