"""Issue 11, jobs: the real rollup refresher raises (its watermark table is away) and the jobs
process logs the traceback, counts the failure, keeps retrying, reports the error on its health
endpoints and in ``waternet jobs --status``, and recovers once the fault is removed."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from tests.integration.jobs.helpers import failures_counted, free_port, wait_for_jobs
from waternet.config import get_settings, reset_settings
from waternet.jobs import process as jobs_process
from waternet.jobs import service

BIN = os.path.join(os.path.dirname(sys.executable), "waternet")
JOB = "rollup-refresh"


def _rename(url: str, old: str, new: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


def _failing(jobs: dict[str, dict[str, Any]]) -> bool:
    return jobs[JOB]["failures"] >= 3


async def test_refresher_failure_is_logged_counted_retried_and_reported(
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("WATERNET_ROLLUP_REFRESH_SECONDS", "0.2")
    monkeypatch.setenv("WATERNET_JOBS_BACKOFF_MAX_SECONDS", "0.5")
    reset_settings()
    settings = get_settings()
    url = settings_env["WATERNET_DATABASE_URL"]
    caplog.set_level(logging.INFO)
    _rename(url, "rollup_watermark", "rollup_watermark_away")  # the fault
    counted_before = failures_counted(JOB)
    port = free_port()
    stop = asyncio.Event()
    process = asyncio.create_task(jobs_process.serve(settings, port=port, stop=stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            jobs = await wait_for_jobs(http, _failing)
            # the health endpoints report the error; the process itself is alive
            job = jobs[JOB]
            assert job["state"] == "failing"
            assert "UndefinedTable" in job["last_error"]
            assert "rollup_watermark" in job["last_error"]
            assert job["last_error_at"] is not None and job["last_success"] is None
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["failing"] == [JOB]
            assert (await http.get("/healthz")).status_code == 200
            metrics = (await http.get("/metrics")).text
            assert f'waternet_job_failures_total{{job="{JOB}"}}' in metrics
            # counted, and logged with the traceback every time
            assert failures_counted(JOB) - counted_before >= 3
            logged = [r for r in caplog.records if getattr(r, "job", None) == JOB and r.exc_info]
            assert len(logged) >= 3
            assert all(r.levelno == logging.ERROR for r in logged)
            assert "Traceback" in caplog.text and "UndefinedTable" in caplog.text
            # another process sees the same in the status table
            status = subprocess.run(
                [BIN, "jobs", "--status"],
                env={**os.environ, **settings_env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert status.returncode == 0, status.stderr
            assert f"{JOB}: failing" in status.stdout
            assert "UndefinedTable" in status.stdout

            # the fault is removed: the job was never left dead, it succeeds again
            _rename(url, "rollup_watermark_away", "rollup_watermark")
            jobs = await wait_for_jobs(
                http, lambda j: j[JOB]["state"] == "ok" and j[JOB]["last_success"] is not None
            )
            when = datetime.fromisoformat
            assert when(jobs[JOB]["last_success"]) > when(jobs[JOB]["last_error_at"])
            assert jobs[JOB]["consecutive_failures"] == 0
            assert (await http.get("/readyz")).status_code == 200
            for _ in range(600):  # the row is saved just after the run the endpoint shows
                rows = {r["job"]: r for r in service.status(url)}
                if rows[JOB]["state"] == "ok":
                    break
                await asyncio.sleep(0.1)
            assert rows[JOB]["state"] == "ok" and rows[JOB]["last_success"] is not None
            assert rows[JOB]["failures"] >= 3
    finally:
        stop.set()
        await asyncio.wait_for(process, 60)
    assert "jobs stopped" in caplog.text
