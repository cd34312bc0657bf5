"""The writer of NB-IoT platform pushes (the API's HTTP endpoints) and the replay of its spool.

The API process runs no periodic job, so its push writer is kept current without one:

* **Spool replay.** Pushes received while the database is away are spooled under
  ``WATERNET_STATE_DIR/spool/http``. The API's writer replays that spool itself before it
  stores the next push (what :meth:`Writer.store` always does), and the jobs process
  (``waternet jobs``, job ``push-spool-replay``) replays whatever is left there every few
  seconds, so a spool is drained even when no push follows the outage. Both hold the spool's
  directory lock (:meth:`Spool.locked`, ``flock``) while they append or replay, so a segment is
  never written and replayed at once. The jobs process must see the API's state directory (the
  same host or volume); where it does not, the next push drains the spool.
* **Latest values.** The writer folds the newest reading per sensor into ``latest_readings`` at
  most once a second (:data:`waternet.ingest.writer.LATEST_EVERY_S`), in a later push's
  transaction when one comes. After a push leaves values pending, one timer (not a periodic
  task) writes them once they are due.
"""

from __future__ import annotations

import asyncio
import threading

from waternet.config import Settings
from waternet.db.connect import API_APP_NAME
from waternet.errors import ServiceUnavailable
from waternet.ingest import service
from waternet.ingest.writer import LATEST_EVERY_S, StoreResult, Writer

SPOOL_NAME = "http"  # spool directory of the push writer, under state_dir/spool/


class PushWriter:
    """One per API process: the push writer, serialised (one push at a time)."""

    def __init__(self, settings: Settings, *, application_name: str = API_APP_NAME) -> None:
        """``application_name``: the API's, as its one connection outside the pool is counted
        within ``WATERNET_DB_POOL_MAX`` (``waternet.db.connect``)."""
        self.settings = settings
        self.application_name = application_name
        # made by the first push, in a worker thread: opening the spool may wait for its lock
        self.writer: Writer | None = None
        self._lock = threading.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flush: asyncio.Task[None] | None = None

    def store(self, *, platform: str, path: str, body: bytes) -> StoreResult:
        """Blocking: call it from a worker thread."""
        with self._lock:
            if self.writer is None:
                self.writer = service.make_writer(
                    self.settings, name=SPOOL_NAME, application_name=self.application_name
                )
            with self.writer.spool.locked():
                return service.store_push(self.writer, platform=platform, path=path, body=body)

    def flush_latest_soon(self) -> None:
        """After a push (on the event loop): write its latest values when they are due, if no
        other push has written them by then."""
        if self._timer is not None or self._flush is not None:
            return
        if self.writer is None or not self.writer.latest_pending:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(LATEST_EVERY_S, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        self._flush = asyncio.get_running_loop().create_task(self._flush_latest())

    async def _flush_latest(self) -> None:
        def work() -> None:
            with self._lock:
                if self.writer is not None:
                    self.writer.maybe_flush_latest()

        try:
            await asyncio.to_thread(work)
        finally:
            self._flush = None
        self.flush_latest_soon()  # not due yet, or the database was away: once more

    def close(self) -> None:
        """At shutdown: cancel the timer, write what is pending, close the connection."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush is not None:
            self._flush.cancel()
        with self._lock:
            if self.writer is not None:
                self.writer.close()


def replay_spool(settings: Settings) -> int:
    """Jobs process: replay the push spool left by the API (see the module docstring); returns
    the segments replayed. Raises :class:`ServiceUnavailable` when the database is away (the
    segments stay, the next run tries again)."""
    spool_dir = settings.state_dir / "spool" / SPOOL_NAME
    if not any(spool_dir.glob("seg-*.wal")):
        return 0
    writer = service.make_writer(settings, name=SPOOL_NAME)
    try:
        with writer.spool.locked():
            n = len(writer.spool.segments())
            if not writer.replay():
                raise ServiceUnavailable("database unreachable: push spool kept for later")
        return n
    finally:
        writer.close()
        writer.spool.close()
