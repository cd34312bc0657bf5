"""A job (what to run, how often, whether only one process may run it) and its status."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HELD_ELSEWHERE = "held by another process"


@dataclass(frozen=True)
class Job:
    """``run`` takes no argument; a plain function runs in a worker thread, a coroutine
    function on the event loop. A ``singleton`` job runs in one process at a time (a
    PostgreSQL advisory lock on :attr:`lock_key`)."""

    name: str
    every_s: float
    run: Callable[[], Any]
    singleton: bool = False
    backoff_max_s: float = 300.0  # longest wait between retries after failures

    @property
    def lock_key(self) -> int:
        """A stable 64-bit advisory lock key derived from the job's name."""
        digest = hashlib.blake2b(f"waternet.jobs:{self.name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


@dataclass
class JobStatus:
    """What one process knows about one job. ``failures`` counts this process's failures."""

    job: str
    singleton: bool
    every_s: float
    state: str = "starting"  # starting | running | ok | failing | held | stopped
    last_started: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    consecutive_failures: int = 0
    next_run: datetime | None = None
    note: str | None = None  # e.g. HELD_ELSEWHERE
    saved_failures: int = field(default=0, repr=False)  # failures already added to the table

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "singleton": self.singleton,
            "every_s": self.every_s,
            "state": self.state,
            "last_started": self.last_started,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "next_run": self.next_run,
            "note": self.note,
        }
