"""Use cases of the jobs domain: read the jobs' status (``waternet jobs --status``)."""

from __future__ import annotations

from typing import Any

from waternet.jobs import repository


def status(url: str) -> list[dict[str, Any]]:
    """``waternet jobs --status``: every job's row of ``job_status``."""
    from waternet.db.connect import connect

    with connect(url) as conn:
        return repository.load_status(conn)
