"""HTTP shapes of the jobs process's health endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class JobStatusOut(BaseModel):
    job: str
    singleton: bool
    every_s: float
    state: str
    last_started: datetime | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    consecutive_failures: int
    next_run: datetime | None
    note: str | None


class JobsHealth(BaseModel):
    status: str  # ok | failing | down
    failing: list[str]
    jobs: list[JobStatusOut]
