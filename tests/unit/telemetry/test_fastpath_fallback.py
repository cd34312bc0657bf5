"""A failing fast path is visible: logged with its traceback (rate-limited) and counted."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY as METRICS

from waternet.ingest import fastpath, pipeline
from waternet.ingest.fastpath import FastTable
from waternet.ingest.pipeline import Incoming, Policy, process
from waternet.ingest.registry import Registry
from waternet.ingest.validation import SensorSpec

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
CODE = "PT-D01-000001"


def _fallbacks() -> float:
    return METRICS.get_sample_value("waternet_ingest_fastpath_fallbacks_total") or 0.0


def _broken_registry() -> Registry:
    """A registry whose fast-path table holds a malformed entry: the fast path raises on it
    (a stand-in for a bug in the fast path), the general path still decides correctly."""
    spec = SensorSpec(code=CODE, kind="PT", unit="m", min=-10, max=100, status="active")
    broken: Any = FastTable({CODE: (1, -10.0)})  # two fields where the fast path unpacks four
    return Registry(by_code={CODE: (1, spec)}, _fast=broken)


def test_fast_path_failure_is_logged_counted_and_falls_back(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline.FALLBACK_LOG, "last", None)
    payload = json.dumps({"v": 3.5, "ts": int(NOW.timestamp() * 1000)}).encode()
    msg = Incoming("mqtt", fastpath.TELEMETRY + CODE, payload, NOW)
    before = _fallbacks()
    with caplog.at_level(logging.ERROR, logger="waternet.ingest.pipeline"):
        batch = process([msg, msg, msg], registry=_broken_registry(), policy=Policy(), now=NOW)
    # the general path stored all three
    assert batch.rows == [(1, NOW, 3.5, 0)] * 3
    assert batch.quarantine == []
    # every failure counted, only the first logged (rate limit), with its traceback
    assert _fallbacks() - before == 3
    records = [r for r in caplog.records if r.name == "waternet.ingest.pipeline"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert "ValueError" in caplog.text and "Traceback" in caplog.text
