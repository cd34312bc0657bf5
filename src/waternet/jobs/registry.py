"""The periodic jobs of waternet. Adding one is one line in :func:`default_jobs`:
``jobs.add(name, every_s=..., run=callable, singleton=...)``.

* ``rollup-refresh`` (singleton): recompute dirty and newly closed rollup buckets
  (:func:`waternet.timeseries.rollups.refresh_database`), every
  ``WATERNET_ROLLUP_REFRESH_SECONDS``.
* ``maintenance`` (singleton): partitions for the coming week and retention
  (:func:`waternet.timeseries.lifecycle.run_maintenance`), every ``WATERNET_MAINTENANCE_HOURS``.
* ``push-spool-replay`` (every process): replay what the API's push writer spooled while the
  database was away (:func:`waternet.ingest.push.replay_spool`), every 5 s; the spool's own file
  lock keeps it from racing the API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from waternet.config import Settings
from waternet.errors import ConfigError
from waternet.jobs.models import Job

PUSH_SPOOL_REPLAY_S = 5.0


class Jobs:
    """An ordered set of jobs with unique names."""

    def __init__(self, *, backoff_max_s: float = 300.0) -> None:
        self.backoff_max_s = backoff_max_s
        self._jobs: dict[str, Job] = {}

    def add(
        self, name: str, *, every_s: float, run: Callable[[], Any], singleton: bool = False
    ) -> Job:
        if name in self._jobs:
            raise ConfigError(f"job {name!r} is registered twice")
        if every_s <= 0:
            raise ConfigError(f"job {name!r}: the interval must be positive")
        job = Job(name, every_s, run, singleton=singleton, backoff_max_s=self.backoff_max_s)
        self._jobs[name] = job
        return job

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)


def default_jobs(settings: Settings) -> Jobs:
    """Every periodic job of the service, configured from ``settings``."""
    from waternet.ingest.push import replay_spool
    from waternet.timeseries.lifecycle import run_maintenance
    from waternet.timeseries.rollups import refresh_database

    url = settings.database_url
    if not url:
        raise ConfigError("WATERNET_DATABASE_URL is required to run the jobs")
    jobs = Jobs(backoff_max_s=settings.jobs_backoff_max_seconds)
    jobs.add(
        "rollup-refresh",
        every_s=settings.rollup_refresh_seconds,
        run=functools.partial(refresh_database, url, batch=settings.rollup_refresh_batch),
        singleton=True,
    )
    jobs.add(
        "maintenance",
        every_s=settings.maintenance_hours * 3600,
        run=functools.partial(run_maintenance, url),
        singleton=True,
    )
    jobs.add(
        "push-spool-replay",
        every_s=PUSH_SPOOL_REPLAY_S,
        run=functools.partial(replay_spool, settings),
    )
    return jobs
