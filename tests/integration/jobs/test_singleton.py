"""Two runners against one database: a singleton job runs in one of them at a time, the other
reports "held by another process" and takes over when the first stops."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.integration.jobs.helpers import by_name, free_port, wait_for_jobs
from waternet.jobs import service
from waternet.jobs.models import HELD_ELSEWHERE, Job
from waternet.jobs.runner import Runner

BIN = os.path.join(os.path.dirname(sys.executable), "waternet")


async def _until(pred: Callable[[], bool], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_two_runners_never_run_a_singleton_job_at_once(db_url: str) -> None:
    runs = {"a": 0, "b": 0}
    active = {"now": 0, "most": 0}

    def job(name: str) -> Job:
        async def sweep() -> None:
            active["now"] += 1
            active["most"] = max(active["most"], active["now"])
            runs[name] += 1
            try:
                await asyncio.sleep(0.05)  # long enough for the other runner to try meanwhile
            finally:
                active["now"] -= 1

        return Job("sweep", 0.02, sweep, singleton=True)

    a = Runner([job("a")], url=db_url, process="runner-a")
    b = Runner([job("b")], url=db_url, process="runner-b")
    await a.start()
    try:
        await _until(lambda: runs["a"] >= 2)
        await b.start()
        await _until(lambda: b.status["sweep"].note == HELD_ELSEWHERE)
        assert b.status["sweep"].state == "held"
        seen = runs["a"]
        await _until(lambda: runs["a"] >= seen + 5)  # a keeps running the job, b keeps skipping
        assert runs["b"] == 0
        assert b.status["sweep"].failures == 0
        # the first runner stops: its session ends, and with it the lock; b takes over
        await a.stop()
        await _until(lambda: runs["b"] >= 3)
        assert b.status["sweep"].note is None and b.status["sweep"].state in ("ok", "running")
        assert active["most"] == 1
        rows = {r["job"]: r for r in service.status(db_url)}
        assert rows["sweep"]["process"] == "runner-b"
    finally:
        await a.stop()
        await b.stop()


def _jobs_process(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "WATERNET_JOBS_HTTP_PORT": str(port)}
    with log.open("wb") as out:
        return subprocess.Popen([BIN, "jobs"], env=full, stdout=out, stderr=subprocess.STDOUT)


async def test_two_jobs_processes_share_the_singleton_jobs(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**settings_env, "WATERNET_ROLLUP_REFRESH_SECONDS": "0.2"}
    ports = [free_port(), free_port()]
    logs = [tmp_path / "jobs-0.log", tmp_path / "jobs-1.log"]
    procs = [_jobs_process(env, p, log) for p, log in zip(ports, logs, strict=True)]
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=10) for p in ports]

    def settled(jobs: dict[str, dict[str, Any]]) -> bool:
        return all(jobs[n]["state"] in ("ok", "held") for n in ("rollup-refresh", "maintenance"))

    try:
        answers = [await wait_for_jobs(c, settled) for c in clients]
        for name in ("rollup-refresh", "maintenance"):
            states = sorted(a[name]["state"] for a in answers)
            assert states == ["held", "ok"], answers  # one process runs it, the other skips it
            held = next(a[name] for a in answers if a[name]["state"] == "held")
            assert held["note"] == HELD_ELSEWHERE and held["last_started"] is None
        # a job that is not a singleton runs in both
        assert all(a["push-spool-replay"]["state"] == "ok" for a in answers)
        # the process running the refresher stops; the other one takes it over
        leader = next(i for i, a in enumerate(answers) if a["rollup-refresh"]["state"] == "ok")
        other = 1 - leader
        procs[leader].send_signal(signal.SIGTERM)
        assert procs[leader].wait(timeout=60) == 0, logs[leader].read_text()
        await wait_for_jobs(clients[other], lambda j: j["rollup-refresh"]["state"] == "ok")
        # a process that stops says so in the rows of the jobs it ran (a held one is not its)
        status = by_name(service.status(settings_env["WATERNET_DATABASE_URL"]))
        ran_maintenance = next(
            i for i, a in enumerate(answers) if a["maintenance"]["state"] == "ok"
        )
        expected = "stopped" if ran_maintenance == leader else "ok"
        assert status["maintenance"]["state"] == expected
        assert status["maintenance"]["process"].endswith(f":{procs[ran_maintenance].pid}")
        # the row is saved just after the run the endpoint shows: wait for it
        await _until(
            lambda: by_name(service.status(settings_env["WATERNET_DATABASE_URL"]))[
                "rollup-refresh"
            ]["process"].endswith(f":{procs[other].pid}")
        )
    finally:
        for c in clients:
            await c.aclose()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=60) for p in procs]
    assert codes == [0, 0], [log.read_text() for log in logs]
    assert all("jobs stopped" in log.read_text() for log in logs)
