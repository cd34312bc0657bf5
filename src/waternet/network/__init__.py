"""The pipe network: versions (import, validation, activation, storage), the in-memory model
and its graph views, spatial index and projections."""

from __future__ import annotations

from waternet.network.model import NetworkModel
from waternet.network.service import (
    LoadedNetwork,
    activate,
    clear_cache,
    element_detail,
    get_version,
    import_into_db,
    import_model,
    list_versions,
    load,
    load_active,
    load_version,
)
from waternet.network.topology import Topology
from waternet.network.validation import ValidationReport, validate_model
from waternet.network.valves import ValveLayer

__all__ = [
    "LoadedNetwork",
    "NetworkModel",
    "Topology",
    "ValidationReport",
    "ValveLayer",
    "activate",
    "clear_cache",
    "element_detail",
    "get_version",
    "import_into_db",
    "import_model",
    "list_versions",
    "load",
    "load_active",
    "load_version",
    "validate_model",
]
