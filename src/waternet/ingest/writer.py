"""The ingest writer: one transaction per batch, spool when the database is away.

``Writer.store(messages)`` returns only when the messages are durable: committed to the
database, or fsync'ed to the local spool. Only then may the caller acknowledge them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from waternet.ingest import metrics, repository
from waternet.ingest import registry as registry_mod
from waternet.ingest.pipeline import Batch, Incoming, Policy, Row, process, quarantine_row
from waternet.ingest.spool import Spool, SpoolFull
from waternet.timeseries.rollups import mark_dirty

log = logging.getLogger(__name__)
REGISTRY_TTL = 30.0
LATEST_EVERY_S = 1.0  # latest values are upserted at most once a second (one row per sensor)


@dataclass
class StoreResult:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    spooled: int = 0


def _newest(latest: dict[int, Row], rows: list[Row]) -> dict[int, Row]:
    """Fold ``rows`` into ``latest`` (sensor id -> newest row by reading time)."""
    for row in rows:
        prev = latest.get(row[0])
        if prev is None or prev[1] < row[1]:
            latest[row[0]] = row
    return latest


class Writer:
    def __init__(
        self,
        url: str,
        *,
        policy: Policy,
        spool_dir: Path,
        spool_max_bytes: int,
        application_name: str = "waternet-ingest",
    ) -> None:
        """The writer keeps one connection (opened on first use, reopened after a failure);
        ``application_name`` names it in ``pg_stat_activity``."""
        self.url = url
        self.application_name = application_name
        self.policy = policy
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes)
        self._conn: psycopg.Connection[Any] | None = None
        self._registry: registry_mod.Registry | None = None
        self._mode: str | None = None
        self._days: set[date] = set()
        # newest committed reading per sensor not yet in latest_readings: the map's latest value
        # may lag by up to LATEST_EVERY_S; after a crash it catches up with the next reading
        self._latest: dict[int, Row] = {}
        self._latest_at = 0.0
        metrics.SPOOL_BYTES.set(self.spool.pending_bytes())

    # -- connection -------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.url, connect_timeout=5, application_name=self.application_name
            )
            self._mode = None
            self._days.clear()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            if self._latest and not self._conn.broken:
                try:
                    self.flush_latest()
                except psycopg.Error:
                    log.warning("could not write latest values at close")
            self._conn.close()
            self._conn = None

    def _note_latest(self, rows: list[Row]) -> None:
        _newest(self._latest, rows)

    @property
    def latest_pending(self) -> bool:
        """Committed readings whose latest values are not written yet."""
        return bool(self._latest)

    def _latest_due(self) -> bool:
        return bool(self._latest) and time.monotonic() - self._latest_at >= LATEST_EVERY_S

    def flush_latest(self) -> None:
        """Upsert the pending latest values in a transaction of their own."""
        if not self._latest:
            return
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            repository.upsert_latest(cur, list(self._latest.values()))
        self._latest.clear()
        self._latest_at = time.monotonic()

    def maybe_flush_latest(self) -> None:
        """Idle-time hook: write latest values that are due (errors are retried later)."""
        if self._latest_due():
            try:
                self.flush_latest()
            except psycopg.Error as exc:
                log.warning("latest values not written yet", extra={"error": str(exc)[:200]})
                self.close()

    def _registry_now(self, conn: psycopg.Connection[Any], *, force: bool = False) -> Any:
        reg = self._registry
        if force or reg is None or time.monotonic() - reg.loaded_at > REGISTRY_TTL:
            with conn.transaction(), conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
                cur.execute(repository.REGISTRY_SQL)
                reg = registry_mod.Registry.from_rows(list(cur.fetchall()))
            self._registry = reg
        return reg

    def refresh_registry(self) -> None:
        self._registry = None

    # -- writing ----------------------------------------------------------------------------
    def _ensure_partitions(self, cur: psycopg.Cursor[Any], batch: Batch) -> None:
        if self._mode is None:
            self._mode = repository.storage_mode(cur)
        if self._mode != "postgres" or not batch.rows:
            return
        today = datetime.now(UTC).date()
        lo, hi = today - timedelta(days=self.policy.max_age.days + 1), today + timedelta(days=2)
        days = {r[1].astimezone(UTC).date() for r in batch.rows} - self._days
        wanted = sorted(d for d in days if lo <= d <= hi)
        if wanted:
            repository.ensure_partitions(cur, wanted[0], wanted[-1])
            self._days.update(
                wanted[0] + timedelta(days=i) for i in range((wanted[-1] - wanted[0]).days + 1)
            )

    def _write(self, messages: list[Incoming]) -> StoreResult:
        conn = self._connection()
        reg = self._registry_now(conn)
        batch = process(messages, registry=reg, policy=self.policy, now=datetime.now(UTC))
        if any(q.reason == "unknown_sensor" for q in batch.quarantine) and (
            time.monotonic() - reg.loaded_at > 2.0
        ):
            # a sensor registered a moment ago: look again before quarantining
            reg = self._registry_now(conn, force=True)
            batch = process(messages, registry=reg, policy=self.policy, now=datetime.now(UTC))
        t0 = time.perf_counter()
        flush = self._latest_due()
        with conn.transaction(), conn.cursor() as cur:
            self._ensure_partitions(cur, batch)
            stored = repository.write_rows(cur, batch.rows)
            if batch.rows:
                mark_dirty(cur, staging_table="ingest_stage")
            quarantined = repository.write_quarantine(cur, batch.quarantine)
            if flush:
                merged = _newest(dict(self._latest), batch.rows)
                repository.upsert_latest(cur, list(merged.values()))
        # committed: only now does the pending state change
        if flush:
            self._latest.clear()
            self._latest_at = time.monotonic()
        else:
            self._note_latest(batch.rows)
        commit_at = time.time()
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - t0)
        metrics.BATCH_SIZE.observe(len(batch.rows))
        metrics.DB_UP.set(1)
        metrics.ACCEPTED.inc(stored)
        metrics.DUPLICATES.inc(len(batch.rows) - stored)
        for q in batch.quarantine:
            metrics.QUARANTINED.labels(q.reason).inc()
        if batch.rows:
            newest = max(r[1] for r in batch.rows).timestamp()
            if 0 <= commit_at - newest < 3600:
                metrics.LATENCY.observe(commit_at - newest)
        return StoreResult(
            messages=len(messages),
            stored=stored,
            duplicates=len(batch.rows) - stored,
            quarantined=quarantined,
        )

    def store(self, messages: list[Incoming]) -> StoreResult:
        """Make ``messages`` durable (database, else spool). Raises SpoolFull when both fail."""
        by_source: dict[str, int] = {}
        for m in messages:
            by_source[m.source] = by_source.get(m.source, 0) + 1
        for source, n in by_source.items():
            metrics.MESSAGES.labels(source).inc(n)
        if self.spool.segments() and not self.replay():
            return self._spool(messages)
        try:
            return self._write(messages)
        except psycopg.OperationalError as exc:
            self._db_down(exc)
            return self._spool(messages)
        except psycopg.Error as exc:
            # content the database refused although validation passed: isolate the message(s)
            log.exception("batch refused by the database, writing message by message")
            self.close()
            return self._one_by_one(messages, exc)

    def _one_by_one(self, messages: list[Incoming], first: Exception) -> StoreResult:
        total = StoreResult()
        for m in messages:
            try:
                r = self._write([m])
            except psycopg.OperationalError as exc:
                self._db_down(exc)
                r = self._spool([m])
            except psycopg.Error as exc:
                self.close()
                r = self._write_refused(m, exc)
            total.messages += r.messages
            total.stored += r.stored
            total.duplicates += r.duplicates
            total.quarantined += r.quarantined
            total.spooled += r.spooled
        return total

    def _write_refused(self, m: Incoming, exc: Exception) -> StoreResult:
        row = quarantine_row(m, "store_error", f"{type(exc).__name__}: {exc}"[:500], None, None)
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            n = repository.write_quarantine(cur, [row])
        metrics.QUARANTINED.labels("store_error").inc()
        return StoreResult(messages=1, quarantined=n)

    def _db_down(self, exc: Exception) -> None:
        metrics.DB_UP.set(0)
        log.error("database unreachable, spooling to disk", extra={"error": str(exc)[:200]})
        self.close()

    def _spool(self, messages: list[Incoming]) -> StoreResult:
        self.spool.append(messages)  # may raise SpoolFull: caller keeps the messages unacked
        metrics.SPOOL_BYTES.set(self.spool.pending_bytes())
        return StoreResult(messages=len(messages), spooled=len(messages))

    def replay(self) -> bool:
        """Write spooled segments in order; True when the spool is empty afterwards."""
        for seg in self.spool.segments():
            try:
                messages = Spool.read(seg)
            except ValueError:
                self.spool.quarantine_segment(seg)
                continue
            try:
                self._write(messages)
            except psycopg.OperationalError as exc:
                self._db_down(exc)
                return False
            seg.unlink()
            metrics.SPOOL_BYTES.set(self.spool.pending_bytes())
            log.warning("replayed spool segment", extra={"segment": seg.name, "n": len(messages)})
        return True


__all__ = ["SpoolFull", "StoreResult", "Writer"]
