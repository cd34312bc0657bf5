"""Times in and out of the time-series API: ISO-8601 with offsets in, the utility's zone out,
and the one check of a requested range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from waternet.config import get_settings
from waternet.errors import ValidationFailed


def tz() -> ZoneInfo:
    return get_settings().tz


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(tz()).isoformat()


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def check_range(start: datetime, end: datetime, *, max_days: float | None = None) -> None:
    """Refuse naive times, reversed or over-long ranges and times outside 1900-2200."""
    problems = []
    for name, t in (("from", start), ("to", end)):
        if t.tzinfo is None or t.utcoffset() is None:
            problems.append({"field": name, "problem": "needs a UTC offset, e.g. +08:00 or Z"})
            continue
        try:
            ok = EARLIEST <= t.astimezone(UTC) <= LATEST
        except OverflowError:
            ok = False
        if not ok:
            problems.append({"field": name, "problem": "must lie between 1900 and 2200"})
    if not problems and end <= start:
        problems.append({"field": "to", "problem": "must be after from"})
    if not problems and max_days is not None and end - start > timedelta(days=max_days):
        problems.append({"field": "to", "problem": f"range longer than {max_days:g} days"})
    if problems:
        raise ValidationFailed("bad time range", details=problems)
