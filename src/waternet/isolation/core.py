"""The engine's intermediate results, as plain data: the valve state a plan starts from
(:class:`EngineState`) and one plan's raw result in element and valve indices
(:class:`PlanCore`), which :mod:`waternet.isolation.outputs` turns into steps and consequences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from waternet.isolation.supply import Edges, SupplyTree

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class EngineState:
    closed: Bool  # (v,) valve closed and holding
    broken: Bool  # (v,)
    tree: SupplyTree
    base_customers: int
    base_critical: int
    unsupplied: I64  # sorted elements without supply in this state (before any plan)


@dataclass(frozen=True, eq=False)
class PlanCore:
    """Raw result of one plan computation (indices)."""

    area_segments: list[int]
    passed: list[tuple[int, str]]
    proposed: I64  # valve indices, operation order
    supply_side: Bool
    already_closed: I64
    not_needed: list[tuple[int, str]]
    q: I64  # elements whose supply was recomputed (area + tree descendants)
    in_area: Bool  # over q
    isolated: I64
    cut_off: I64
    sources_in_area: I64
    inflow: Edges  # extra edges into the burst element (it takes water from both ends)
    unsupplied_before: I64  # elements outside the area already without supply
