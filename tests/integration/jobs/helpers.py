"""Helpers of the jobs tests: a free port, polling the jobs process's HTTP endpoints."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import REGISTRY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def by_name(jobs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {j["job"]: j for j in jobs}


def failures_counted(job: str) -> float:
    return REGISTRY.get_sample_value("waternet_job_failures_total", {"job": job}) or 0.0


async def wait_for_jobs(
    http: httpx.AsyncClient,
    pred: Callable[[dict[str, dict[str, Any]]], bool],
    *,
    timeout: float = 120.0,
) -> dict[str, dict[str, Any]]:
    """Poll ``GET /jobs`` until ``pred`` holds on the jobs by name (the server may still be
    starting); returns the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    jobs: dict[str, dict[str, Any]] = {}
    while loop.time() < deadline:
        try:
            r = await http.get("/jobs")
            if r.status_code == 200:
                jobs = by_name(r.json())
                if pred(jobs):
                    return jobs
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not reached; last /jobs answer: {jobs}")
