"""Storage capability probe: TimescaleDB present? Which license? Which partitioning mode?

Three storage modes share one schema and one set of queries (``date_bin`` works on all three):

* ``timescaledb``: TimescaleDB with the Timescale license: hypertables, compression and
  continuous-aggregate policies.
* ``timescaledb-apache``: the Apache-2 build: hypertables and ``drop_chunks``; no compression,
  no continuous aggregates (the service maintains rollups itself).
* ``postgres``: plain PostgreSQL declarative range partitioning with daily partitions that the
  service creates ahead of time (and a default partition so that nothing is ever refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

StorageMode = Literal["timescaledb", "timescaledb-apache", "postgres"]

MODE_LABELS: dict[str, str] = {
    "timescaledb": "TimescaleDB hypertables (Timescale license: compression, caggs)",
    "timescaledb-apache": "TimescaleDB hypertables (Apache license: no compression, no caggs)",
    "postgres": "plain PostgreSQL partitioning (daily range partitions)",
}


@dataclass(frozen=True)
class Capabilities:
    server_version: str
    server_version_num: int
    timescaledb_available: str | None  # version installable on this server
    timescaledb_installed: str | None  # version installed in this database
    license: str | None  # apache | timescale | None

    @property
    def mode(self) -> StorageMode:
        if self.timescaledb_installed is None:
            return "postgres"
        return "timescaledb" if self.license == "timescale" else "timescaledb-apache"

    @property
    def has_compression(self) -> bool:
        return self.mode == "timescaledb"

    @property
    def has_continuous_aggregates(self) -> bool:
        return self.mode == "timescaledb"

    def as_dict(self) -> dict[str, Any]:
        return {
            "server_version": self.server_version,
            "timescaledb_version": self.timescaledb_installed,
            "timescaledb_available": self.timescaledb_available,
            "timescaledb_license": self.license,
            "mode": self.mode,
            "partitioning": MODE_LABELS[self.mode],
        }


def _scalar(conn: Any, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def probe(conn: Any) -> Capabilities:
    """Read what this database can do. Works on a psycopg or SQLAlchemy-driver connection."""
    available = _scalar(
        conn,
        "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'",
    )
    installed = _scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    license_ = None
    if installed is not None:
        license_ = _scalar(conn, "SELECT current_setting('timescaledb.license', true)")
    return Capabilities(
        server_version=str(_scalar(conn, "SHOW server_version")),
        server_version_num=int(_scalar(conn, "SHOW server_version_num")),
        timescaledb_available=available,
        timescaledb_installed=installed,
        license=license_,
    )


def timescaledb_preloaded(conn: Any) -> bool:
    libs = _scalar(conn, "SELECT current_setting('shared_preload_libraries', true)") or ""
    return "timescaledb" in libs
