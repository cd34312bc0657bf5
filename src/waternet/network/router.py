"""HTTP API of network versions and their elements (thresholds in docs/network.md). The
handlers are async and take their connection from the process's pool; CPU work (reading an
upload, decoding a version) runs in a worker thread without holding a connection."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from waternet.auth.deps import require_roles
from waternet.auth.models import Principal
from waternet.db.deps import DbConn, db_pool
from waternet.errors import ValidationFailed
from waternet.network import service
from waternet.network.schemas import ElementOut, ImportOut, VersionDetail, VersionOut

router = APIRouter(prefix="/api/v1/network", tags=["network"])

READERS = require_roles("dispatcher", "analyst", "crew", "service")
IMPORTERS = require_roles("analyst")  # and admin (always admitted)

MAX_UPLOAD_BYTES = 1024**3
UPLOAD_SUFFIXES = (".inp", ".zip")


@router.get("/versions", response_model=list[VersionOut], dependencies=[Depends(READERS)])
async def list_versions(conn: DbConn) -> list[dict[str, Any]]:
    return await service.alist_versions(conn=conn)


@router.get("/versions/{version_id}", response_model=VersionDetail, dependencies=[Depends(READERS)])
async def get_version(version_id: int, conn: DbConn) -> dict[str, Any]:
    return await service.aget_version(conn=conn, version_id=version_id)


def _save(upload: UploadFile, folder: Path, allowed: tuple[str, ...]) -> Path:
    name = Path(upload.filename or "upload").name
    if not name.lower().endswith(allowed):
        raise ValidationFailed(
            f"{name}: expected {' or '.join(allowed)}",
            details=[
                {
                    "severity": "error",
                    "code": "bad_value",
                    "element": name,
                    "layer": "upload",
                    "message": f"file type must be {' or '.join(allowed)}",
                }
            ],
        )
    target = folder / name
    with target.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh, length=1024 * 1024)
    if target.stat().st_size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"{name}: larger than {MAX_UPLOAD_BYTES} bytes")
    return target


@router.post("/versions", response_model=ImportOut, status_code=201)
async def import_version(
    request: Request,
    principal: Annotated[Principal, Depends(IMPORTERS)],
    file: Annotated[UploadFile, File(description="EPANET .inp, or .zip of a layer folder")],
    valves: Annotated[UploadFile | None, File(description="valve layer CSV")] = None,
    name: Annotated[str | None, Form()] = None,
    activate: Annotated[bool, Form()] = True,
) -> dict[str, Any]:
    """Import a network as a new version (all-or-nothing: 422 lists every problem)."""

    def read() -> tuple[Any, Any, str]:
        with tempfile.TemporaryDirectory(prefix="waternet-upload-") as tmp:
            folder = Path(tmp)
            path = _save(file, folder, UPLOAD_SUFFIXES)
            valves_path = None
            if valves is not None and valves.filename:
                (folder / "v").mkdir()
                valves_path = _save(valves, folder / "v", (".csv",))
            return service.read_network(path, valves=valves_path, name=name or Path(path).stem)

    model, report, source = await run_in_threadpool(read)
    async with db_pool(request).connection() as conn:
        vid, report = await service.aimport_model(
            conn=conn,
            model=model,
            report=report,
            source=source,
            activate=activate,
            created_by=principal.name,
        )
    return {"id": vid, "report": report.to_dict()}


@router.post(
    "/versions/{version_id}/activate", response_model=VersionOut, dependencies=[Depends(IMPORTERS)]
)
async def activate_version(version_id: int, conn: DbConn) -> dict[str, Any]:
    return await service.aactivate(conn=conn, version_id=version_id)


@router.get(
    "/elements/{layer}/{element_id}",
    response_model=ElementOut,
    response_model_exclude_none=True,
    dependencies=[Depends(READERS)],
)
async def get_element(
    layer: str, element_id: str, request: Request, version: Annotated[int | None, Query()] = None
) -> dict[str, Any]:
    async with db_pool(request).connection() as conn:
        net = await service.aload(conn=conn, version_id=version)
    return await run_in_threadpool(service.element_detail, net, layer, element_id)
