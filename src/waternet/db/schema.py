"""Helpers shared by the Alembic revisions: storage-mode choice and time-partitioned tables.

The storage mode is chosen once, by the first revision, and recorded in ``waternet_meta``; later
revisions read it with :func:`recorded_mode` so that every time-series table of one database is
laid out the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from waternet.db.capabilities import StorageMode, probe

PARTITION_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION waternet_ensure_partition(parent text, day date) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  pname text := parent || '_p' || to_char(day, 'YYYYMMDD');
  dflt text := parent || '_default';
  lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
  hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
  tcol text;
BEGIN
  IF to_regclass(pname) IS NOT NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext(pname));
  IF to_regclass(pname) IS NOT NULL THEN
    RETURN false;
  END IF;
  SELECT a.attname INTO tcol
    FROM pg_partitioned_table p
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
   WHERE p.partrelid = parent::regclass;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                 pname, parent);
  IF to_regclass(dflt) IS NOT NULL THEN
    -- rows that arrived before the partition existed move out of the default partition
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                   'INSERT INTO %I SELECT * FROM moved', dflt, tcol, lo, tcol, hi, pname);
  END IF;
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                 parent, pname, lo, hi);
  RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION waternet_ensure_partitions(parent text, first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  d date := first_day;
  n integer := 0;
BEGIN
  WHILE d <= last_day LOOP
    IF waternet_ensure_partition(parent, d) THEN
      n := n + 1;
    END IF;
    d := d + 1;
  END LOOP;
  RETURN n;
END
$fn$;

CREATE OR REPLACE FUNCTION waternet_drop_partitions_before(parent text, cutoff date)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
       AND to_date(right(c.relname, 8), 'YYYYMMDD') < cutoff
  LOOP
    EXECUTE format('DROP TABLE %I', r.relname);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$fn$;
"""

DROP_PARTITION_FUNCTIONS = """
DROP FUNCTION IF EXISTS waternet_drop_partitions_before(text, date);
DROP FUNCTION IF EXISTS waternet_ensure_partitions(text, date, date);
DROP FUNCTION IF EXISTS waternet_ensure_partition(text, date);
"""


def choose_mode(bind: Any, requested: str) -> StorageMode:
    """Install TimescaleDB when asked or available, and return the resulting storage mode."""
    caps = probe(_Exec(bind))
    if requested == "postgres":
        return "postgres"
    if caps.timescaledb_installed is None:
        if caps.timescaledb_available is None:
            if requested == "timescaledb":
                raise RuntimeError(
                    "WATERNET_STORAGE_MODE=timescaledb but the extension is not installed on "
                    "this server (run scripts/install-timescaledb)"
                )
            return "postgres"
        preload = bind.execute(text("SELECT current_setting('shared_preload_libraries', true)"))
        if "timescaledb" not in (preload.scalar() or ""):
            if requested == "timescaledb":
                raise RuntimeError("TimescaleDB is not in shared_preload_libraries on this server")
            return "postgres"
        bind.execute(text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
        set_meta(bind, "created_timescaledb", True)
        caps = probe(_Exec(bind))
    return caps.mode


class _Exec:
    """Adapter so :func:`probe` can run on a SQLAlchemy connection."""

    def __init__(self, bind: Any) -> None:
        self._bind = bind

    def execute(self, sql: str) -> Any:
        return self._bind.execute(text(sql))


def set_meta(bind: Any, key: str, value: Any) -> None:
    import json

    bind.execute(
        text(
            "INSERT INTO waternet_meta(key, value) VALUES (:k, CAST(:v AS jsonb)) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ),
        {"k": key, "v": json.dumps(value)},
    )


def get_meta(bind: Any, key: str) -> Any:
    row = bind.execute(text("SELECT value FROM waternet_meta WHERE key = :k"), {"k": key}).first()
    return None if row is None else row[0]


def recorded_mode(bind: Any) -> StorageMode:
    mode = get_meta(bind, "storage_mode")
    return mode if mode in ("timescaledb", "timescaledb-apache", "postgres") else "postgres"


def make_time_partitioned(bind: Any, table: str, time_col: str, mode: StorageMode) -> None:
    """Turn a table created ``PARTITION BY RANGE (time_col)`` (postgres mode) or a plain table
    (TimescaleDB modes) into the storage-mode's time-partitioned form."""
    if mode == "postgres":
        bind.execute(text(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"))
        bind.execute(
            text(
                "SELECT waternet_ensure_partitions(:t, (now() AT TIME ZONE 'UTC')::date - 2, "
                "(now() AT TIME ZONE 'UTC')::date + 7)"
            ),
            {"t": table},
        )
    else:
        bind.execute(
            text(f"SELECT create_hypertable('{table}', by_range('{time_col}', INTERVAL '1 day'))")
        )


def partition_clause(mode: StorageMode, time_col: str) -> str:
    return f" PARTITION BY RANGE ({time_col})" if mode == "postgres" else ""
