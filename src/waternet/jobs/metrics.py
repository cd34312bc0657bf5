"""Prometheus metrics of the jobs runner (one registry: the process default)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

FAILURES = Counter("waternet_job_failures_total", "Job runs that raised", ["job"])
RUNS = Counter("waternet_job_runs_total", "Job runs that completed", ["job"])
SKIPPED = Counter(
    "waternet_job_skipped_total", "Singleton job runs skipped: held by another process", ["job"]
)
LAST_SUCCESS = Gauge(
    "waternet_job_last_success_timestamp_seconds", "Unix time of the last success", ["job"]
)
