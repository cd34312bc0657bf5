"""A local, fsync'ed spool of received messages for when the database is unreachable.

Each spooled batch is one segment file of length-prefixed, CRC-checked records; a segment is
written to a temporary name, fsync'ed, renamed and the directory fsync'ed before the messages are
acknowledged. Replay reads the segments in order and deletes each only after its batch commits.
A torn or corrupt segment (crash while writing) was never acknowledged; it is moved aside.

Two processes may share a spool directory (the API's push writer appends to ``spool/http``, the
jobs process replays it): :meth:`Spool.locked` is an exclusive lock across processes
(``flock`` on ``.lock`` in the directory) that both hold while they append or replay.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from waternet.errors import ServiceUnavailable
from waternet.ingest.pipeline import Incoming

log = logging.getLogger(__name__)
_HEAD = struct.Struct(">IHHIq")  # crc32, source len, topic len, payload len, received_at (us)
_MAGIC = b"WNSPOOL1"


class SpoolFull(ServiceUnavailable):
    """The spool reached its bound: stop acknowledging until the database returns (a
    ``ServiceUnavailable``: should it escape, the API answers 503 and the CLI reports it)."""


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.dir / ".lock").open("a")
        self._lock_mutex = threading.RLock()
        self._lock_depth = 0
        with self.locked():  # another process's append may be in progress
            for tmp in self.dir.glob("*.tmp"):
                tmp.unlink()  # never renamed, so never acknowledged
            existing = [int(p.stem.split("-")[1]) for p in self.segments()]
            self._seq = max(existing, default=0)

    def close(self) -> None:
        """Release the directory's lock file (the spool is not used afterwards)."""
        self._lock_file.close()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the directory across processes (re-entrant within this object)."""
        with self._lock_mutex:
            if self._lock_depth == 0:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def segments(self) -> list[Path]:
        return sorted(self.dir.glob("seg-*.wal"))

    def pending_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.segments())

    def append(self, messages: list[Incoming]) -> Path:
        """Durably write one batch; raises SpoolFull when over the bound."""
        body = bytearray(_MAGIC)
        for m in messages:
            src, topic = m.source.encode(), m.topic.encode()
            us = int(m.received_at.timestamp() * 1_000_000)
            rest = src + topic + m.payload
            crc = zlib.crc32(rest, zlib.crc32(struct.pack(">q", us)))
            body += _HEAD.pack(crc, len(src), len(topic), len(m.payload), us) + rest
        if self.pending_bytes() + len(body) > self.max_bytes:
            raise SpoolFull(f"spool over {self.max_bytes} bytes")
        self._seq += 1
        final = self.dir / f"seg-{self._seq:012d}.wal"
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(body))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return final

    @staticmethod
    def read(path: Path) -> list[Incoming]:
        data = path.read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{path.name}: not a spool segment")
        out: list[Incoming] = []
        pos = len(_MAGIC)
        while pos < len(data):
            if pos + _HEAD.size > len(data):
                raise ValueError(f"{path.name}: torn record at {pos}")
            crc, ls, lt, lp, us = _HEAD.unpack_from(data, pos)
            pos += _HEAD.size
            end = pos + ls + lt + lp
            rest = data[pos:end]
            if end > len(data) or zlib.crc32(rest, zlib.crc32(struct.pack(">q", us))) != crc:
                raise ValueError(f"{path.name}: corrupt record at {pos}")
            out.append(
                Incoming(
                    source=rest[:ls].decode(),
                    topic=rest[ls : ls + lt].decode(),
                    payload=bytes(rest[ls + lt :]),
                    received_at=datetime.fromtimestamp(us / 1_000_000, UTC),
                )
            )
            pos = end
        return out

    def quarantine_segment(self, path: Path) -> None:
        bad = path.with_suffix(".bad")
        os.replace(path, bad)
        log.error("spool segment unreadable, moved aside", extra={"segment": str(bad)})
