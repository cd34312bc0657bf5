"""HTTP API of network versions and map layers (contract: /tmp/network_api.md; thresholds in
docs/network.md). The handlers are plain functions: FastAPI runs them in its thread pool, and
the service's work (loading a version, building layers) is synchronous CPU work."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from waternet.api.deps import require_roles
from waternet.auth.models import Principal
from waternet.errors import ConfigError, ValidationFailed
from waternet.gis.layers import MAX_FEATURES, MAX_ZOOM, check_bbox
from waternet.network import service
from waternet.network.schemas import ElementOut, ImportOut, PickOut, VersionDetail, VersionOut

router = APIRouter(prefix="/api/v1/network", tags=["network"])

READERS = require_roles("dispatcher", "analyst", "crew", "service")
IMPORTERS = require_roles("analyst")  # and admin (always admitted)

MAX_UPLOAD_BYTES = 1024**3
UPLOAD_SUFFIXES = (".inp", ".zip")


def _url(request: Request) -> str:
    url = request.app.state.settings.database_url
    if not url:  # pragma: no cover - create_app refuses to start without one
        raise ConfigError("WATERNET_DATABASE_URL is not set")
    return str(url)


@router.get("/versions", response_model=list[VersionOut], dependencies=[Depends(READERS)])
def list_versions(request: Request) -> list[dict[str, Any]]:
    return service.list_versions(_url(request))


@router.get("/versions/{version_id}", response_model=VersionDetail,
            dependencies=[Depends(READERS)])
def get_version(version_id: int, request: Request) -> dict[str, Any]:
    return service.get_version(_url(request), version_id)


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
            _url(request), path=path, valves=valves_path, name=name or Path(path).stem,
            activate=activate, created_by=principal.name)
    return {"id": vid, "report": report.to_dict()}


@router.post("/versions/{version_id}/activate", response_model=VersionOut,
             dependencies=[Depends(IMPORTERS)])
def activate_version(version_id: int, request: Request) -> dict[str, Any]:
    return service.activate(_url(request), version_id)


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise ValidationFailed("bad bbox", details=[{"field": "bbox", "problem":
                                                     "min_lon,min_lat,max_lon,max_lat"}])
    return check_bbox(parts)


@router.get("/layers/{layer}", dependencies=[Depends(READERS)],
            responses={200: {"content": {"application/geo+json": {}}}})
def get_layer(
    layer: str,
    request: Request,
    bbox: Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat (WGS84)")],
    zoom: Annotated[int, Query(ge=0, le=MAX_ZOOM, description="web-map zoom level")],
    version: Annotated[int | None, Query(description="version id (default: active)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FEATURES)] = MAX_FEATURES,
) -> Response:
    """GeoJSON of one layer (pipes, junctions, sources, valves, hydrants, customers, dmas,
    sensors) in a bbox: clustered / filtered by zoom,
    at most ``limit`` features (``truncated`` says when some were left out)."""
    box = _parse_bbox(bbox)
    net = service.load(_url(request), version)
    doc = net.map.geojson(layer, box, zoom, limit=limit)
    doc["version"] = net.version_id
    body = json.dumps(doc, separators=(",", ":"))
    return Response(body, media_type="application/geo+json")


@router.get("/elements/{layer}/{element_id}", response_model=ElementOut,
            response_model_exclude_none=True, dependencies=[Depends(READERS)])
def get_element(layer: str, element_id: str, request: Request,
                version: Annotated[int | None, Query()] = None) -> dict[str, Any]:
    return service.element_detail(service.load(_url(request), version), layer, element_id)


@router.get("/pick", response_model=PickOut, dependencies=[Depends(READERS)])
def pick(
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    tolerance_m: Annotated[float, Query(gt=0, le=500)] = 10.0,
    version: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    """The pipe under a clicked point, plus the nearest valve and hydrant."""
    net = service.load(_url(request), version)
    return service.pick(net, lon=lon, lat=lat, tolerance_m=tolerance_m)
