"""Sensor codes: ``<KIND>-<ZONE>-<NNNNNN>``, e.g. ``PT-D03-000123`` (see sensors/README.md).

KIND is one of ``KINDS``; ZONE is the DMA code (1-8 upper-case letters or digits) or ``X`` for a
sensor outside any DMA; NNNNNN is a six-digit number unique within kind and zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from waternet.errors import ValidationFailed

KINDS: dict[str, str] = {
    "PT": "pressure",
    "FT": "flow",
    "MT": "meter_register",
    "LT": "level",
    "CL": "chlorine",
    "TB": "turbidity",
    "PH": "ph",
    "PS": "pump_status",
}
NO_ZONE = "X"
_CODE = re.compile(r"(?P<kind>[A-Z]{2})-(?P<zone>[A-Z0-9]{1,8})-(?P<number>[0-9]{6})")
_ZONE = re.compile(r"[A-Z0-9]{1,8}")


@dataclass(frozen=True, slots=True)
class SensorCode:
    kind: str
    zone: str
    number: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.zone}-{self.number:06d}"

    @property
    def kind_name(self) -> str:
        return KINDS[self.kind]


def _problem(code: object) -> str | None:
    if not isinstance(code, str):
        return "sensor code must be a string"
    m = _CODE.fullmatch(code)
    if m is None:
        return f"{code[:40]!r} is not of the form KIND-ZONE-NNNNNN (e.g. PT-D03-000123)"
    if m["kind"] not in KINDS:
        return f"unknown sensor kind {m['kind']!r}; known: {', '.join(KINDS)}"
    return None


def is_valid(code: object) -> bool:
    return _problem(code) is None


def parse(code: str) -> SensorCode:
    """Parse a code; raises ``ValidationFailed`` (details name the problem) if it is malformed."""
    problem = _problem(code)
    if problem is not None:
        raise ValidationFailed(problem, details=[{"field": "sensor_code", "problem": problem}])
    m = _CODE.fullmatch(code)
    assert m is not None
    return SensorCode(kind=m["kind"], zone=m["zone"], number=int(m["number"]))


def format_code(*, kind: str, zone: str | None, number: int) -> str:
    """Build a code. ``kind`` may be the two-letter code or its name (``"pressure"``);
    ``zone=None`` gives ``X``. Raises ``ValidationFailed`` for bad parts."""
    kind_code = kind if kind in KINDS else {v: k for k, v in KINDS.items()}.get(kind)
    zone_code = NO_ZONE if zone is None else zone
    problems = []
    if kind_code is None:
        problems.append({"field": "kind", "problem": f"unknown sensor kind {kind!r}"})
    if not _ZONE.fullmatch(zone_code):
        problems.append({"field": "zone", "problem": "zone must be 1-8 of A-Z, 0-9 (or X)"})
    if not 0 <= number <= 999_999:
        problems.append({"field": "number", "problem": "number must be 0..999999"})
    if problems:
        raise ValidationFailed("invalid sensor code parts", details=problems)
    return f"{kind_code}-{zone_code}-{number:06d}"
