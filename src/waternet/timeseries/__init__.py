"""The time-series store: readings, rollups (1 min to 1 day), retention, and the queries
(series, latest values, CSV export, meter consumption, DMA balance, night flow, quality)."""

from __future__ import annotations

from waternet.timeseries.levels import LEVELS, Level, choose_level
from waternet.timeseries.lifecycle import RetentionPolicy, RetentionReport, run_maintenance
from waternet.timeseries.rollups import mark_dirty, rebuild, refresh_all, refresh_database

__all__ = [
    "LEVELS",
    "Level",
    "RetentionPolicy",
    "RetentionReport",
    "choose_level",
    "mark_dirty",
    "rebuild",
    "refresh_all",
    "refresh_database",
    "run_maintenance",
]
