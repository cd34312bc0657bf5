"""Serves the dispatch map at ``/`` and its assets under ``/static/``.

* ``/static/app/<file>``: this package's ``static/`` folder (plain ES module + CSS, no build);
* ``/static/leaflet/<file>``: Leaflet's ``dist/`` from the repository's ``node_modules``
  (installed by ``npm install`` / ``make web``, never copied into the repository). Found from
  ``WATERNET_NODE_MODULES`` or by walking up from this file and from the working directory.

The shell carries no data, so these routes need no token (and are left out of the OpenAPI
document); everything shown on the page is fetched from the API with the user's token.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from waternet.config import get_settings
from waternet.errors import NotFound

router = APIRouter(tags=["web"], include_in_schema=False)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
NO_CACHE = {"Cache-Control": "no-cache"}


@lru_cache(maxsize=1)
def leaflet_dir() -> Path | None:
    """``node_modules/leaflet/dist``, or None when Leaflet is not installed."""
    candidates: list[Path] = []
    configured = get_settings().node_modules
    if configured is not None:
        candidates.append(configured)
    for base in (HERE, Path.cwd().resolve()):
        candidates.extend(p / "node_modules" for p in (base, *base.parents))
    for nm in candidates:
        dist = nm / "leaflet" / "dist"
        if (dist / "leaflet.js").is_file():
            return dist
    return None


def _safe_file(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise NotFound(f"no static file {rel!r}")
    return path


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=NO_CACHE)


@router.api_route("/static/app/{path:path}", methods=["GET", "HEAD"])
def app_asset(path: str) -> FileResponse:
    return FileResponse(_safe_file(STATIC, path), headers=NO_CACHE)


@router.api_route("/static/leaflet/{path:path}", methods=["GET", "HEAD"])
def leaflet_asset(path: str) -> FileResponse:
    dist = leaflet_dir()
    if dist is None:
        raise NotFound("Leaflet is not installed: run `make web` (npm install) in the repository")
    return FileResponse(_safe_file(dist, path), headers={"Cache-Control": "max-age=86400"})
