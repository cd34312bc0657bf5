"""Importers: EPANET .inp, GIS layers (GeoJSON + CSV), the valve CSV. Each returns
``(model, report)`` and, by default (``strict=True``), raises
:class:`~waternet.errors.ValidationFailed` listing every issue when the report has errors,
so a failed import produces nothing."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from waternet.errors import ValidationFailed
from waternet.network.importers.common import add_valves, read_customers_csv
from waternet.network.importers.inp import (
    DEFAULT_ANCHOR,
    estimate_coordinate_scale,
    import_inp,
    model_from_wntr,
    read_wntr,
)
from waternet.network.importers.inp_writer import model_to_wntr, write_inp
from waternet.network.importers.layers import (
    LAYER_NAMES,
    META_FILE,
    import_layers,
    import_layers_dir,
)
from waternet.network.importers.writer import layer_collections, write_layers
from waternet.network.model import NetworkModel
from waternet.network.validation import ValidationReport, validate_model

__all__ = [
    "DEFAULT_ANCHOR",
    "estimate_coordinate_scale",
    "extract_layer_zip",
    "import_inp",
    "import_layers",
    "import_layers_dir",
    "import_network",
    "layer_collections",
    "model_from_wntr",
    "model_to_wntr",
    "read_wntr",
    "write_inp",
    "write_layers",
]


def import_network(
    path: str | os.PathLike[str],
    *,
    valves: str | os.PathLike[str] | None = None,
    layers_dir: str | os.PathLike[str] | None = None,
    customers: str | os.PathLike[str] | None = None,
    name: str | None = None,
    crs: int | str = "local",
    anchor: tuple[float, float] = DEFAULT_ANCHOR,
    scale: float | str = "auto",
    strict: bool = True,
) -> tuple[NetworkModel, ValidationReport]:
    """What ``waternet network import PATH [--valves CSV] [--layers DIR] [--name NAME]`` calls.

    ``path``: an EPANET .inp file, a layer folder (GeoJSON layers, see docs/network.md), or a
    .zip of either (an upload).
    With an .inp, ``layers_dir`` adds asset layers (valves, hydrants, customers, DMAs, sensors)
    and ``crs``/``anchor``/``scale`` place its coordinates (see :func:`import_inp`). For a
    folder, ``crs`` is the layers' CRS when given as EPSG (default: each collection's own, else
    WGS84). ``valves`` / ``customers``: CSV files (they replace a folder's own CSV).
    """
    p = Path(path)
    if p.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            folder = extract_layer_zip(p, Path(tmp))
            if folder is not None:
                return import_network(
                    folder,
                    valves=valves,
                    customers=customers,
                    name=name or p.stem,
                    crs=crs,
                    strict=strict,
                )
            inp = next(Path(tmp).glob("*.inp"), None)
            if inp is None:
                raise ValidationFailed(f"{p.name}: no layers and no .inp inside", details=[])
            return import_network(
                inp,
                valves=valves,
                customers=customers,
                name=name or p.stem,
                crs=crs,
                anchor=anchor,
                scale=scale,
                strict=strict,
            )
    if p.is_dir():
        if layers_dir is not None:
            raise ValidationFailed(
                "give either a layer folder or an .inp with --layers", details=[]
            )
        layer_crs = None if isinstance(crs, str) and crs.lower() == "local" else crs
        return import_layers_dir(
            p, crs=layer_crs, name=name, valves_csv=valves, customers_csv=customers, strict=strict
        )
    base, report = import_inp(p, crs=crs, anchor=anchor, scale=scale, name=name, strict=False)
    if layers_dir is not None:
        return import_layers_dir(
            layers_dir,
            base=base,
            name=base.name,
            valves_csv=valves,
            customers_csv=customers,
            strict=strict,
        )
    if valves is not None or customers is not None:
        report = ValidationReport()
        if valves is not None:
            add_valves(base, report, csv_source=valves, layer="valves.csv")
        if customers is not None:
            base.customers.extend(read_customers_csv(customers, report))
            base.reindex()
        report.extend(validate_model(base))
    if strict:
        report.raise_if_errors("network import")
    return base, report


MAX_ZIP_BYTES = 2 * 1024**3


def extract_layer_zip(path: str | os.PathLike[str], into: Path) -> Path | None:
    """Extract the known files of a zipped layer folder (any sub-folder; names only, so no
    path escapes ``into``). Returns ``into`` when it holds a pipes layer, else None (the
    .inp files, if any, are extracted too)."""
    wanted = {f"{n}{e}" for n in LAYER_NAMES for e in (".geojson", ".json")}
    wanted |= {"valves.csv", "customers.csv", META_FILE}
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                base = Path(info.filename).name
                if info.is_dir() or not (base in wanted or base.lower().endswith(".inp")):
                    continue
                total += info.file_size
                if total > MAX_ZIP_BYTES:
                    raise ValidationFailed(f"{Path(path).name}: archive too large", details=[])
                (into / base).write_bytes(zf.read(info))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailed(f"{Path(path).name}: not a readable zip: {exc}", details=[]) from exc
    has_layers = any((into / f"pipes{e}").is_file() for e in (".geojson", ".json"))
    return into if has_layers else None
