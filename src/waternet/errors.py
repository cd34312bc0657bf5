"""The error hierarchy. Every error raised on purpose by waternet derives from WaternetError.

The HTTP mapping lives in one place: ``waternet.api.errors``. Pure modules raise these too, so
that a CLI or the API can report them the same way.
"""

from __future__ import annotations

from typing import Any


class WaternetError(Exception):
    """Base class. ``code`` is a stable machine-readable reason."""

    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(WaternetError):
    code = "config_error"


class ValidationFailed(WaternetError):
    """Input was refused; ``details`` lists every problem found."""

    code = "validation_failed"


class NotFound(WaternetError):
    code = "not_found"


class Conflict(WaternetError):
    code = "conflict"


class AuthError(WaternetError):
    code = "unauthorized"


class Forbidden(WaternetError):
    code = "forbidden"


class ServiceUnavailable(WaternetError):
    code = "service_unavailable"


class DecodeError(WaternetError):
    """A payload or frame could not be decoded. ``code`` is refined by subclasses/reasons."""

    code = "decode_error"

    def __init__(self, message: str, *, reason: str = "decode_error", details: Any = None) -> None:
        super().__init__(message, details=details)
        self.reason = reason
