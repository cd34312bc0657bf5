"""Writing a model back to EPANET .inp (through WNTR), coordinates in the model's metres.

When the model came from one of WNTR's shipped networks (``meta["wntr_library"]``, the demo
city) or a WNTR model is given, that model is written with its patterns, curves and controls
and only the coordinates replaced; otherwise a plain model is rebuilt from the elements (no
patterns or curves; pumps become constant-power pumps of ``DEFAULT_PUMP_KW``).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Any

from waternet.network.model import NetworkModel

DEFAULT_PUMP_KW = 50.0


def library_inp(name: str) -> Path:
    """Path of a network shipped in WNTR's package (``Net3.inp``, ``ky10.inp`` ...)."""
    return Path(str(files("wntr") / "library" / "networks" / name))


def model_to_wntr(model: NetworkModel, *, wn: Any = None) -> Any:
    """A WNTR model for ``model``: ``wn`` (or the library network in ``meta``) with
    coordinates set from the model, else one built from the elements."""
    import wntr

    if wn is None and model.meta.get("wntr_library"):
        wn = wntr.network.WaterNetworkModel(str(library_inp(model.meta["wntr_library"])))
    if wn is None:
        wn = _build(model)
    nodes = model.node_by_id
    for name in wn.node_name_list:
        n = nodes.get(name)
        if n is not None and n.x is not None and n.y is not None:
            wn.get_node(name).coordinates = (n.x, n.y)
    links = model.link_by_id
    for name in wn.link_name_list:
        lk = links.get(name)
        if lk is not None:
            wn.get_link(name).vertices = [tuple(v) for v in lk.vertices_xy]
    return wn


def _build(model: NetworkModel) -> Any:
    import wntr

    wn = wntr.network.WaterNetworkModel()
    for n in model.nodes:
        if n.kind == "reservoir":
            wn.add_reservoir(n.id, base_head=n.head_m if n.head_m is not None else n.elevation_m)
        elif n.kind == "tank":
            wn.add_tank(
                n.id,
                elevation=n.elevation_m,
                init_level=n.init_level_m if n.init_level_m is not None else 3.0,
                min_level=n.min_level_m if n.min_level_m is not None else 0.0,
                max_level=n.max_level_m if n.max_level_m is not None else 6.0,
                diameter=n.tank_diameter_m if n.tank_diameter_m is not None else 15.0,
            )
        else:
            wn.add_junction(n.id, base_demand=n.base_demand_m3s, elevation=n.elevation_m)
    for lk in model.links:
        status = lk.status.upper()
        if lk.kind == "pump":
            wn.add_pump(
                lk.id,
                lk.start,
                lk.end,
                pump_type="POWER",
                pump_parameter=float(lk.attrs.get("power_kw", DEFAULT_PUMP_KW)),
                initial_status="CLOSED" if status == "CLOSED" else "OPEN",
            )
        elif lk.kind == "valve":
            wn.add_valve(
                lk.id,
                lk.start,
                lk.end,
                diameter=lk.diameter_m or 0.3,
                valve_type=(lk.valve_type or "TCV").upper(),
                initial_setting=float(lk.attrs.get("setting", 0.0)),
                initial_status=status if status in ("OPEN", "CLOSED") else "ACTIVE",
            )
        else:
            wn.add_pipe(
                lk.id,
                lk.start,
                lk.end,
                length=lk.length_m,
                diameter=lk.diameter_m,
                roughness=lk.roughness if lk.roughness is not None else 100.0,
                initial_status="CLOSED" if status == "CLOSED" else "OPEN",
                check_valve=lk.check_valve,
            )
    return wn


def write_inp(
    model: NetworkModel, path: str | os.PathLike[str], *, wn: Any = None, units: str = "LPS"
) -> Path:
    """Write ``model`` as an .inp file (SI flow units by default, so lengths are metres and
    coordinates are the model's projected metres: re-import with ``crs=model.crs``)."""
    import wntr

    out = Path(path)
    wntr.network.write_inpfile(model_to_wntr(model, wn=wn), str(out), units=units)
    return out
