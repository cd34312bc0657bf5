"""The per-process cache of loaded network versions.

One :class:`VersionCache` per process holds the loaded versions keyed by (database identity,
version id), behind one lock. Loading a version is slow (seconds for a million pipes), so each
key has a build lock of its own: two requests for the same version load it once, two requests
for different versions do not wait for each other. A newly active version (seen by
:meth:`VersionCache.lookup`) or an activation through the service drops the database's other
versions; at most ``size`` versions are kept (least recently used goes first).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from waternet.network.model import NetworkModel

if TYPE_CHECKING:
    from waternet.network.topology import Topology

T = TypeVar("T")
Key = tuple[str, int]  # (database identity, version id)
CACHE_VERSIONS = 2  # loaded versions kept per process (the active one and one other)
BUILD_POLL_S = 0.005


@dataclass(eq=False)
class LoadedNetwork:
    """One version in memory. The derived forms are built on first use, once, thread-safely."""

    version_id: int
    name: str
    model: NetworkModel
    created_at: datetime | None = None
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """A form derived from this version (the map layers, the isolation engine...), built on
        first use, once, thread-safely, and dropped with the version. ``key`` names the form:
        use the deriving module's name, e.g. ``"isolation.engine"``."""
        if key not in self._built:
            with self._lock:
                if key not in self._built:
                    self._built[key] = build()
        return self._built[key]  # type: ignore[no-any-return]

    @property
    def topology(self) -> Topology:
        return self.derived("network.topology", self.model.to_topology)


class VersionCache:
    def __init__(self, size: int = CACHE_VERSIONS) -> None:
        self.size = size
        self._lock = threading.Lock()  # guards everything below
        self._entries: OrderedDict[Key, LoadedNetwork] = OrderedDict()
        self._active: dict[str, int] = {}  # last active version id seen per database
        self._building: dict[Key, threading.Lock] = {}

    def lookup(
        self, db: str, version_id: int, created: datetime, *, active: bool
    ) -> LoadedNetwork | None:
        """The cached version when it is still the stored one (same ``created``), else None.
        ``active``: the version is the database's active one (a change drops the others)."""
        key = (db, version_id)
        with self._lock:
            if active and self._active.get(db) != version_id:
                self._drop(db, keep=version_id)
                self._active[db] = version_id
            hit = self._entries.get(key)
            if hit is None or hit.created_at != created:
                return None
            self._entries.move_to_end(key)  # most recently used last
            return hit

    def put(self, db: str, net: LoadedNetwork) -> LoadedNetwork:
        with self._lock:
            self._entries[(db, net.version_id)] = net
            self._entries.move_to_end((db, net.version_id))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return net

    def activated(self, db: str, version_id: int) -> None:
        """``version_id`` became the active version of ``db``: drop the other versions."""
        with self._lock:
            self._drop(db, keep=version_id)
            self._active[db] = version_id

    def forget(self, db: str, version_id: int) -> None:
        """``version_id`` was deleted (or replaced): drop it."""
        with self._lock:
            self._entries.pop((db, version_id), None)
            if self._active.get(db) == version_id:
                del self._active[db]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._active.clear()
            self._building.clear()

    def keys(self) -> list[Key]:
        with self._lock:
            return list(self._entries)

    @asynccontextmanager
    async def building(self, db: str, version_id: int) -> AsyncIterator[None]:
        """Hold the build lock of one version (loads of other versions go on meanwhile). The
        lock is a thread lock taken without blocking the event loop, so loads from different
        event loops (the CLI's threads) are serialised too."""
        with self._lock:
            lock = self._building.setdefault((db, version_id), threading.Lock())
        while not lock.acquire(blocking=False):
            await asyncio.sleep(BUILD_POLL_S)
        try:
            yield
        finally:
            lock.release()

    def _drop(self, db: str, *, keep: int) -> None:
        for k in [k for k in self._entries if k[0] == db and k[1] != keep]:
            del self._entries[k]
