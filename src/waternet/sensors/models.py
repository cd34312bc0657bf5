"""What a sensor and a meter model are, as plain data (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

TRANSPORTS = ("mqtt", "nbiot")
"""How a sensor reaches waternet: MQTT (gateways, loggers) or an NB-IoT carrier platform push."""
STATUSES = ("active", "maintenance", "disabled", "retired")
"""A registered sensor's status; only ``active`` and ``maintenance`` readings are stored."""


@dataclass(frozen=True, slots=True)
class StatusBits:
    """Where a meter model keeps its flags inside ST (a 16-bit value, ST0 | ST1 << 8).

    ``valve``: lowest bit of the 2-bit valve field (00 open, 01 closed, 11 abnormal, 10 unknown);
    ``battery_low``: bit set when the battery is low; ``flags``: further named single bits.
    ``None`` means the model does not report that item.
    """

    valve: int | None = 0
    battery_low: int | None = 2
    flags: tuple[tuple[str, int], ...] = ()
