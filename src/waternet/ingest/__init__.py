"""Telemetry ingest: MQTT and NB-IoT platform pushes into the time-series store. Nothing
accepted is lost (commit or fsync'ed spool before the acknowledgement); bad input is
quarantined with a reason."""

from __future__ import annotations

from waternet.ingest.mqtt.worker import IngestWorker
from waternet.ingest.pipeline import Batch, Incoming, Policy
from waternet.ingest.service import make_policy, make_writer, store_push
from waternet.ingest.writer import StoreResult, Writer

__all__ = [
    "Batch",
    "Incoming",
    "IngestWorker",
    "Policy",
    "StoreResult",
    "Writer",
    "make_policy",
    "make_writer",
    "store_push",
]
