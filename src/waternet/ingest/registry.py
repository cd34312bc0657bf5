"""In-memory view of the sensor registry for the ingest hot path (code -> id and spec)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from waternet.ingest.fastpath import FastTable
from waternet.ingest.validation import SensorSpec


@dataclass
class Registry:
    by_code: dict[str, tuple[int, SensorSpec]] = field(default_factory=dict)
    by_device: dict[str, str] = field(default_factory=dict)  # IMEI or device id -> code
    model_of: dict[str, str | None] = field(default_factory=dict)
    loaded_at: float = 0.0
    _fast: FastTable | None = field(default=None, repr=False, compare=False)

    @property
    def fast(self) -> FastTable:
        """The fast path's table of this snapshot (built once, on first use)."""
        if self._fast is None:
            self._fast = FastTable.build(self.by_code)
        return self._fast

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> Registry:
        reg = cls(loaded_at=time.monotonic())
        for r in rows:
            spec = SensorSpec(
                code=r["code"],
                kind=r["kind"],
                unit=r["unit"],
                min=float("-inf") if r["min_value"] is None else float(r["min_value"]),
                max=float("inf") if r["max_value"] is None else float(r["max_value"]),
                status=r["status"],
                transport=r["transport"],
            )
            reg.by_code[r["code"]] = (int(r["id"]), spec)
            reg.model_of[r["code"]] = r.get("model")
            if r.get("imei"):
                reg.by_device[str(r["imei"])] = r["code"]
        return reg

    def lookup_device(self, key: str) -> str | None:
        return self.by_device.get(key) or (key if key in self.by_code else None)
