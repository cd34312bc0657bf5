"""SQL of the jobs runner: advisory locks of singleton jobs and the ``job_status`` table.
Takes a connection, never commits (the runner's connections are in autocommit)."""

from __future__ import annotations

from typing import Any

import psycopg

from waternet.jobs.models import JobStatus

SAVE_SQL = """
INSERT INTO job_status AS s (job, process, state, last_started, last_success, last_error,
                             last_error_at, failures, next_run, updated_at)
VALUES (%(job)s, %(process)s, %(state)s, %(last_started)s, %(last_success)s, %(last_error)s,
        %(last_error_at)s, %(new_failures)s, %(next_run)s, now())
ON CONFLICT (job) DO UPDATE SET
    process = EXCLUDED.process,
    state = EXCLUDED.state,
    last_started = coalesce(EXCLUDED.last_started, s.last_started),
    last_success = coalesce(EXCLUDED.last_success, s.last_success),
    last_error = coalesce(EXCLUDED.last_error, s.last_error),
    last_error_at = coalesce(EXCLUDED.last_error_at, s.last_error_at),
    failures = s.failures + EXCLUDED.failures,
    next_run = EXCLUDED.next_run,
    updated_at = now()
"""

LOAD_SQL = """
SELECT job, process, state, last_started, last_success, last_error, last_error_at, failures,
       next_run, updated_at
  FROM job_status ORDER BY job
"""


async def try_lock(conn: psycopg.AsyncConnection[Any], key: int) -> bool:
    """Take the session-level advisory lock ``key`` if free (held until unlocked or the session
    ends)."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raises when the session (and so any lock it held) is gone."""
    await conn.execute("SELECT 1")


async def save_status(conn: psycopg.AsyncConnection[Any], st: JobStatus, *, process: str) -> None:
    """Upsert one job's row; adds the failures not saved yet to the total."""
    params = st.as_dict()
    params["process"] = process
    params["new_failures"] = st.failures - st.saved_failures
    await conn.execute(SAVE_SQL, params)
    st.saved_failures = st.failures


def load_status(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every job's row (dict rows), by name."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(LOAD_SQL)
        return list(cur.fetchall())
