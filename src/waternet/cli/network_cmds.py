"""``waternet network``: import, info, demo-city (and the ``--scale N`` synthetic networks).

Bad input raises :mod:`waternet.errors` (``cli.main`` prints every problem and exits with 2).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from waternet.config import get_settings
from waternet.errors import ConfigError, ValidationFailed

network_app = typer.Typer(
    help="Pipe network versions, the demo city, synthetic networks.", no_args_is_help=True
)


def _db_url() -> str:
    from waternet.cli.core import require_db_url

    return require_db_url()


def _print_version(row: dict[str, Any]) -> None:
    s = row.get("stats") or {}
    counts = s.get("counts", {})
    typer.echo(
        f"version {row['id']}: {row['name']} ({row['source']})"
        f"{'  [active]' if row.get('active') else ''}"
    )
    typer.echo(
        f"  created {row['created_at']:%Y-%m-%d %H:%M:%S %Z}"
        f"{' by ' + row['created_by'] if row.get('created_by') else ''}"
    )
    if counts:
        typer.echo("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if s.get("pipe_length_km") is not None:
        typer.echo(
            f"  pipe length {s['pipe_length_km']} km, CRS {s.get('crs')}, "
            f"bounds {s.get('bounds_lonlat')}"
        )
    typer.echo(f"  warnings {row.get('n_warnings', 0)}")


@network_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="EPANET .inp, a layer folder, or a .zip")],
    valves: Annotated[Path | None, typer.Option("--valves", help="valve layer CSV")] = None,
    layers: Annotated[Path | None, typer.Option("--layers", help="asset layer folder")] = None,
    name: Annotated[str | None, typer.Option("--name", help="version name")] = None,
    crs: Annotated[
        str,
        typer.Option(
            "--crs", help="coordinates' CRS: EPSG code, or 'local' (.inp placed at the anchor)"
        ),
    ] = "local",
    activate: Annotated[bool, typer.Option("--activate/--no-activate")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import a network as a new version (all-or-nothing; every problem is listed)."""
    from waternet.network import service

    url = _db_url()
    t0 = time.perf_counter()
    vid, report = service.import_into_db(
        url,
        path=path,
        valves=valves,
        layers_dir=layers,
        name=name,
        activate=activate,
        created_by="cli",
        crs=crs,
    )
    if as_json:
        typer.echo(json.dumps({"id": vid, "report": report.to_dict()}))
        return
    typer.echo(
        f"imported {path} as network version {vid}"
        f"{' (active)' if activate else ''} in {time.perf_counter() - t0:.1f} s"
    )
    for w in report.warnings[:20]:
        typer.echo(f"  warning {w.code}: {w.element}: {w.message}")
    if len(report.warnings) > 20:
        typer.echo(f"  ... {len(report.warnings) - 20} more warnings (waternet network info)")


@network_app.command("info")
def info_cmd(
    version: Annotated[
        int | None, typer.Argument(help="version id (default: all versions)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the versions, or show one version with its validation warnings."""
    from waternet.network import service

    url = _db_url()
    if version is None:
        rows = service.list_versions(url)
        if as_json:
            typer.echo(json.dumps(rows, default=str))
            return
        if not rows:
            typer.echo("no network versions (import one with `waternet network import`)")
        for r in rows:
            _print_version(r)
        return
    row = service.get_version(url, version)
    if as_json:
        typer.echo(json.dumps(row, default=str))
        return
    _print_version(row)
    for w in row["warnings"][:50]:
        typer.echo(f"  warning {w['code']}: {w['element']}: {w['message']}")


@network_app.command("demo-city")
def demo_city_cmd(
    size: Annotated[
        str, typer.Option("--size", help="small (Net3), medium (ky10), large (Net6)")
    ] = "medium",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="write the QGIS-ready layers here (default demo-city/ for --size)"
        ),
    ] = None,
    do_import: Annotated[
        bool | None,
        typer.Option(
            "--import/--no-import",
            help="import as a new active version (default: when WATERNET_DATABASE_URL is set)",
        ),
    ] = None,
    scale: Annotated[
        int | None,
        typer.Option("--scale", min=2, help="instead: a synthetic network of exactly N pipes"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 7,
) -> None:
    """Build the demo city (or a --scale N synthetic network), write its layers, import it."""
    from waternet.network import service

    if size not in ("small", "medium", "large"):
        raise ValidationFailed(f"--size must be small, medium or large, not {size!r}")
    has_db = bool(get_settings().database_url)
    if do_import and not has_db:
        raise ConfigError("--import needs WATERNET_DATABASE_URL (or use --no-import)")
    importing = has_db if do_import is None else do_import
    if out is not None and out.exists() and not out.is_dir():
        raise ValidationFailed(f"--out {out} exists and is not a folder")
    t0 = time.perf_counter()
    if scale is not None:
        from waternet.demo.synthetic import synthetic_network

        model = synthetic_network(scale, seed=seed).to_model()
        source = f"synthetic:{scale}:seed={seed}"
        typer.echo(
            f"built synthetic network: {model.counts()['links']} pipes, "
            f"{len(model.nodes)} nodes in {time.perf_counter() - t0:.1f} s"
        )
        if out is not None:
            from waternet.network.importers import write_layers

            write_layers(model, out)
            typer.echo(f"wrote layers to {out}")
    else:
        from waternet.demo.city import build_demo_city
        from waternet.network.importers import write_layers

        model = build_demo_city(size, seed=seed)  # type: ignore[arg-type]
        source = f"demo-city:{size}:seed={seed}"
        target = out if out is not None else Path("demo-city")
        files = write_layers(model, target)
        typer.echo(
            f"wrote {len(files)} files for demo city {size!r} to {target} "
            "(open the .geojson layers in QGIS)"
        )
    if importing:
        vid, report = service.import_model(_db_url(), model=model, source=source, created_by="cli")
        typer.echo(
            f"imported as network version {vid} (active), {len(report.warnings)} "
            f"warnings, {time.perf_counter() - t0:.1f} s in all"
        )


def register(app: typer.Typer) -> None:
    """Add the ``network`` group to the main ``waternet`` app."""
    app.add_typer(network_app, name="network")
