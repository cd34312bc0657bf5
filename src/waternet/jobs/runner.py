"""The one runner of periodic jobs, and its one failure policy.

Every job runs in a loop of its own: run, wait ``every_s``, run again. The first run is at
start.

* **Failure.** An exception from a job is logged with its traceback (``log.exception``),
  counted in ``waternet_job_failures_total{job}``, recorded in the job's status (message and
  time), and the job runs again after an exponential back-off (1 s, 2 s, 4 s, … capped at the
  job's ``backoff_max_s``, with up to 20 % jitter). A job is never left dead: the loop itself is
  supervised and restarted the same way should it fail.
* **Singleton jobs** run only while this process holds the job's PostgreSQL advisory lock
  (``pg_try_advisory_lock`` on a dedicated session connection, kept while the process runs the
  job, so the lock follows the process: when it stops or dies the session ends and another
  runner takes over at its next try). A runner that finds the lock taken skips the run and
  reports "held by another process"; it tries again every ``min(every_s, 30 s)``.
* **Shutdown** (:meth:`Runner.stop`): no new run starts, runs in progress get ``grace_s`` to
  finish, then the loops are cancelled; an error a loop ended with is logged, never dropped.
* **Status**: :attr:`Runner.status` in memory (the jobs process serves it over HTTP), and the
  ``job_status`` table after every run when the runner has a database URL (what
  ``waternet jobs --status`` prints).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from waternet.jobs import metrics, repository
from waternet.jobs.models import HELD_ELSEWHERE, Job, JobStatus

log = logging.getLogger(__name__)
BACKOFF_BASE_S = 1.0
JITTER = 0.2
LOCK_RETRY_S = 30.0  # longest wait before trying a lock held by another process again


def backoff(job: Job, failures: int, *, jitter: float = JITTER) -> float:
    """Seconds to wait after the ``failures``-th failure in a row."""
    delay = min(job.backoff_max_s, BACKOFF_BASE_S * 2.0 ** max(0, failures - 1))
    return float(delay * (1 - jitter * random.random()))


def _now() -> datetime:
    return datetime.now(UTC)


class Runner:
    """Runs ``jobs`` until :meth:`stop`. ``url``: the database for locks and the status table
    (required when a job is a singleton)."""

    def __init__(
        self, jobs: Sequence[Job], *, url: str | None = None, process: str | None = None
    ) -> None:
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        if url is None and any(j.singleton for j in jobs):
            raise ValueError("singleton jobs need a database URL for their advisory locks")
        self.jobs = list(jobs)
        self.url = url
        self.process = process or f"{socket.gethostname()}:{os.getpid()}"
        self.status = {j.name: JobStatus(j.name, j.singleton, j.every_s) for j in jobs}
        self._stopping = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, psycopg.AsyncConnection[Any]] = {}
        self._held: set[str] = set()
        self._status_conn: psycopg.AsyncConnection[Any] | None = None
        self._status_lock = asyncio.Lock()

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        for job in self.jobs:
            self._tasks[job.name] = asyncio.create_task(
                self._supervise(job), name=f"waternet-job:{job.name}"
            )
        log.info("jobs started", extra={"jobs": [j.name for j in self.jobs]})

    async def stop(self, *, grace_s: float = 30.0) -> None:
        """Stop every job (see the module docstring); logs any error a job loop ended with."""
        self._stopping.set()
        tasks = list(self._tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            for t in pending:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for name, result in zip(self._tasks, results, strict=True):
                if isinstance(result, asyncio.CancelledError):
                    log.warning("job cancelled at shutdown", extra={"job": name})
                elif isinstance(result, BaseException):
                    log.error("job ended with an error", extra={"job": name}, exc_info=result)
        for job in self.jobs:
            st = self.status[job.name]
            ran_here = job.name in self._held if job.singleton else st.last_started is not None
            st.state, st.next_run = "stopped", None
            if ran_here:  # the row is this process's: say it stopped (a held row is not ours)
                await self._save(st)
        for conn in [*self._locks.values(), self._status_conn]:
            if conn is not None:
                with contextlib.suppress(Exception):  # closing a broken connection
                    await conn.close()
        self._locks.clear()
        self._held.clear()
        self._status_conn = None
        log.info("jobs stopped")

    async def __aenter__(self) -> Runner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def alive(self) -> bool:
        """Every job loop is running (liveness)."""
        return bool(self._tasks) and not any(t.done() for t in self._tasks.values())

    def failing(self) -> list[str]:
        """Jobs whose last run failed (readiness)."""
        return [n for n, st in self.status.items() if st.consecutive_failures]

    # -- one job ------------------------------------------------------------------------------
    async def _supervise(self, job: Job) -> None:
        """Restart the job's loop should it fail (it catches a job's errors itself)."""
        st = self.status[job.name]
        while not self._stopping.is_set():
            try:
                await self._loop(job, st)
            except Exception as exc:
                self._failed(job, st, exc, what="job loop failed, restarting it")
                await self._sleep(backoff(job, st.consecutive_failures))

    async def _loop(self, job: Job, st: JobStatus) -> None:
        delay = 0.0
        while True:
            st.next_run = _now() + timedelta(seconds=delay)
            if await self._sleep(delay):
                return
            try:
                if job.singleton and not await self._hold_lock(job):
                    if st.note != HELD_ELSEWHERE:
                        log.info("job skipped: held by another process", extra={"job": job.name})
                    st.state, st.note = "held", HELD_ELSEWHERE
                    metrics.SKIPPED.labels(job.name).inc()
                    delay = min(job.every_s, LOCK_RETRY_S)
                    continue
                st.note = None
                st.state, st.last_started = "running", _now()
                await self._call(job)
            except Exception as exc:
                self._failed(job, st, exc, what="job failed, will retry")
                delay = backoff(job, st.consecutive_failures)
            else:
                st.state, st.last_success, st.consecutive_failures = "ok", _now(), 0
                metrics.RUNS.labels(job.name).inc()
                metrics.LAST_SUCCESS.labels(job.name).set(st.last_success.timestamp())
                delay = job.every_s
            st.next_run = _now() + timedelta(seconds=delay)
            await self._save(st)

    def _failed(self, job: Job, st: JobStatus, exc: Exception, *, what: str) -> None:
        st.failures += 1
        st.consecutive_failures += 1
        st.state, st.last_error_at = "failing", _now()
        st.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        metrics.FAILURES.labels(job.name).inc()
        log.exception(what, extra={"job": job.name, "failures_in_a_row": st.consecutive_failures})

    @staticmethod
    async def _call(job: Job) -> None:
        if inspect.iscoroutinefunction(job.run):
            await job.run()
        else:
            await asyncio.to_thread(job.run)

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until stopping; True when stopping."""
        if seconds > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    # -- database -----------------------------------------------------------------------------
    async def _hold_lock(self, job: Job) -> bool:
        """True when this process holds the job's advisory lock (taken now or earlier, on a
        session that is still alive). Raises when the database is unreachable."""
        assert self.url is not None
        conn = self._locks.get(job.name)
        if conn is not None and (conn.closed or conn.broken):
            self._locks.pop(job.name)
            self._held.discard(job.name)  # the session ended: so did its lock
            with contextlib.suppress(Exception):
                await conn.close()
            conn = None
        if conn is None:
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=5, application_name="waternet-jobs"
            )
            self._locks[job.name] = conn
        if job.name in self._held:
            await repository.ping(conn)
            return True
        if await repository.try_lock(conn, job.lock_key):
            self._held.add(job.name)
            log.info("job lock taken", extra={"job": job.name})
            return True
        return False

    async def _save(self, st: JobStatus) -> None:
        """Record the status in ``job_status`` (best effort: a database that is away is the
        jobs' own failure to report; the in-memory status stays right)."""
        if self.url is None:
            return
        async with self._status_lock:
            try:
                conn = self._status_conn
                if conn is None or conn.closed or conn.broken:
                    conn = self._status_conn = await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=5
                    )
                await repository.save_status(conn, st, process=self.process)
            except psycopg.Error as exc:
                log.warning("job status not saved", extra={"job": st.job, "error": str(exc)[:300]})
