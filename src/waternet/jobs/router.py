"""HTTP of the jobs process (``WATERNET_HTTP_HOST``:``WATERNET_JOBS_HTTP_PORT``), for probes and
operators, without a token like the API's own health endpoints and the ingest worker's metrics
port:

* ``GET /healthz``: 200 while every job loop runs (liveness), 503 otherwise.
* ``GET /readyz``: 200 when no job's last run failed, 503 with the failing jobs otherwise.
* ``GET /jobs``: every job's status (last success, last error and its time, failures, next run,
  "held by another process").
* ``GET /metrics``: Prometheus (``waternet_job_failures_total{job}`` and the rest).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from waternet import __version__
from waternet.jobs.runner import Runner
from waternet.jobs.schemas import JobsHealth, JobStatusOut

router = APIRouter(tags=["jobs"])


def _health(runner: Runner) -> JobsHealth:
    failing = runner.failing()
    status = "down" if not runner.alive() else "failing" if failing else "ok"
    jobs = [JobStatusOut(**st.as_dict()) for st in runner.status.values()]
    return JobsHealth(status=status, failing=failing, jobs=jobs)


def _answer(health: JobsHealth, ok: bool) -> JSONResponse:
    return JSONResponse(health.model_dump(mode="json"), status_code=200 if ok else 503)


@router.get("/healthz", response_model=JobsHealth)
async def healthz(request: Request) -> JSONResponse:
    health = _health(request.app.state.runner)
    return _answer(health, health.status != "down")


@router.get("/readyz", response_model=JobsHealth)
async def readyz(request: Request) -> JSONResponse:
    health = _health(request.app.state.runner)
    return _answer(health, health.status == "ok")


@router.get("/jobs", response_model=list[JobStatusOut])
async def jobs(request: Request) -> list[JobStatusOut]:
    return _health(request.app.state.runner).jobs


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(runner: Runner) -> FastAPI:
    app = FastAPI(title="waternet jobs", version=__version__, docs_url=None, redoc_url=None)
    app.state.runner = runner
    app.include_router(router)
    return app
