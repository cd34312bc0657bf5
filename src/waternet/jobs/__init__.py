"""Periodic jobs: one runner, one failure policy, one status, for every background job.

The jobs process (``waternet jobs``) runs them; the API runs none. See
:mod:`waternet.jobs.registry` for the list and :mod:`waternet.jobs.runner` for the policy.
"""

from __future__ import annotations

from waternet.jobs.models import Job, JobStatus
from waternet.jobs.registry import Jobs, default_jobs
from waternet.jobs.runner import Runner, backoff

__all__ = ["Job", "JobStatus", "Jobs", "Runner", "backoff", "default_jobs"]
