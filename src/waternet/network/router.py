"""HTTP API of network versions and their elements (thresholds in docs/network.md). The
handlers are plain functions: FastAPI runs them in its thread pool, and the service's work
(loading a version) is synchronous CPU work."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from waternet.auth.deps import require_roles
from waternet.auth.models import Principal
from waternet.db.deps import database_url
from waternet.errors import ValidationFailed
from waternet.network import service
from waternet.network.schemas import ElementOut, ImportOut, VersionDetail, VersionOut

router = APIRouter(prefix="/api/v1/network", tags=["network"])

READERS = require_roles("dispatcher", "analyst", "crew", "service")
IMPORTERS = require_roles("analyst")  # and admin (always admitted)

MAX_UPLOAD_BYTES = 1024**3
UPLOAD_SUFFIXES = (".inp", ".zip")


@router.get("/versions", response_model=list[VersionOut], dependencies=[Depends(READERS)])
def list_versions(request: Request) -> list[dict[str, Any]]:
    return service.list_versions(database_url(request))


@router.get("/versions/{version_id}", response_model=VersionDetail,
            dependencies=[Depends(READERS)])
def get_version(version_id: int, request: Request) -> dict[str, Any]:
    return service.get_version(database_url(request), version_id)


def _save(upload: UploadFile, folder: Path, allowed: tuple[str, ...]) -> Path:
    name = Path(upload.filename or "upload").name
    if not name.lower().endswith(allowed):
        raise ValidationFailed(f"{name}: expected {' or '.join(allowed)}", details=[
            {"severity": "error", "code": "bad_value", "element": name, "layer": "upload",
             "message": f"file type must be {' or '.join(allowed)}"}])
    target = folder / name
    with target.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh, length=1024 * 1024)
    if target.stat().st_size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"{name}: larger than {MAX_UPLOAD_BYTES} bytes")
    return target


@router.post("/versions", response_model=ImportOut, status_code=201)
def import_version(
    request: Request,
    principal: Annotated[Principal, Depends(IMPORTERS)],
    file: Annotated[UploadFile, File(description="EPANET .inp, or .zip of a layer folder")],
    valves: Annotated[UploadFile | None, File(description="valve layer CSV")] = None,
    name: Annotated[str | None, Form()] = None,
    activate: Annotated[bool, Form()] = True,
) -> dict[str, Any]:
    """Import a network as a new version (all-or-nothing: 422 lists every problem)."""
    with tempfile.TemporaryDirectory(prefix="waternet-upload-") as tmp:
        folder = Path(tmp)
        path = _save(file, folder, UPLOAD_SUFFIXES)
        valves_path = None
        if valves is not None and valves.filename:
            (folder / "v").mkdir()
            valves_path = _save(valves, folder / "v", (".csv",))
        vid, report = service.import_into_db(
            database_url(request), path=path, valves=valves_path, name=name or Path(path).stem,
            activate=activate, created_by=principal.name)
    return {"id": vid, "report": report.to_dict()}


@router.post("/versions/{version_id}/activate", response_model=VersionOut,
             dependencies=[Depends(IMPORTERS)])
def activate_version(version_id: int, request: Request) -> dict[str, Any]:
    return service.activate(database_url(request), version_id)


@router.get("/elements/{layer}/{element_id}", response_model=ElementOut,
            response_model_exclude_none=True, dependencies=[Depends(READERS)])
def get_element(layer: str, element_id: str, request: Request,
                version: Annotated[int | None, Query()] = None) -> dict[str, Any]:
    return service.element_detail(service.load(database_url(request), version), layer, element_id)
