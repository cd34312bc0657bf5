"""Use cases of the jobs domain: read the jobs' status (``waternet jobs --status``)."""

from __future__ import annotations

from typing import Any

import psycopg

from waternet.errors import ConfigError
from waternet.jobs import repository


def status(url: str) -> list[dict[str, Any]]:
    """``waternet jobs --status``: every job's row of ``job_status``."""
    from waternet.db.connect import connect

    with connect(url) as conn:
        try:
            return repository.load_status(conn)
        except psycopg.errors.UndefinedTable:
            raise ConfigError("no job_status table: run `waternet migrate` first") from None
