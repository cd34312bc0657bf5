"""The bounded hand-over between the session's reading thread and the worker's writer thread.

A full inbox blocks the reading thread, so the broker holds the rest (back-pressure instead of
memory growth); batches are cut by estimated readings and by age.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from waternet.ingest.pipeline import Incoming

BATCH_PREFIX = "waternet/v1/batch/"


class Inbox:
    """Bounded hand-over from the reading thread to the writer thread, in messages."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Incoming] = deque()
        self._cond = threading.Condition()

    def put_many(self, items: list[Incoming], stop: threading.Event) -> None:
        """Append; blocks while the inbox is full (unless ``stop`` is set)."""
        with self._cond:
            while len(self._items) >= self.maxsize and not stop.is_set():
                self._cond.wait(0.2)
            self._items.extend(items)
            self._cond.notify_all()

    def get_batch(self, max_weight: int, max_age: float, first_wait: float = 0.2) -> list[Incoming]:
        """Up to ``max_weight`` readings (estimated) or what arrived within ``max_age`` seconds
        of the first message, whichever comes first; [] when nothing came in ``first_wait``."""
        items = self._items
        with self._cond:
            if not items and not self._cond.wait_for(lambda: bool(items), first_wait):
                return []
        deadline = time.monotonic() + max_age
        batch: list[Incoming] = []
        weight = 0
        while True:
            with self._cond:
                while items and weight < max_weight:
                    m = items.popleft()
                    batch.append(m)
                    # readings a message probably carries: a gateway batch has one JSON object
                    # per reading, so count closing braces; single readings and frames count 1
                    weight += (
                        max(1, m.payload.count(b"}") - 1) if m.topic.startswith(BATCH_PREFIX) else 1
                    )
                self._cond.notify_all()
                if weight >= max_weight:
                    return batch
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait_for(lambda: bool(items), left):
                    return batch

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items
