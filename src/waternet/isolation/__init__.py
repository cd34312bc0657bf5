"""Valve isolation: Walski segments, closure plans for a burst (with failed valves, live state,
consequences, operation order and restore), criticality, and the plans' map form."""

from __future__ import annotations

from waternet.isolation.assets import Assets
from waternet.isolation.engine import IsolationEngine
from waternet.isolation.plan import IsolationPlan, NetworkState
from waternet.isolation.segments import SegmentIndex
from waternet.isolation.service import burst_plan, criticality, isolation_engine

__all__ = [
    "Assets",
    "IsolationEngine",
    "IsolationPlan",
    "NetworkState",
    "SegmentIndex",
    "burst_plan",
    "criticality",
    "isolation_engine",
]
