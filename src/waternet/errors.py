"""The error hierarchy. Every error raised on purpose by waternet derives from WaternetError.

The HTTP mapping lives in one place: ``waternet.api.errors`` (status per class, one error body);
the CLI prints them in one place: ``waternet.cli.report_error``. Pure modules raise these too, so
that a CLI or the API can report them the same way. ``code`` is the stable machine-readable
reason (the ``error`` field of an HTTP error body)::

    WaternetError (error)                                   500
    ├── ConfigError (config_error)                          500
    ├── ValidationFailed (validation_failed)                422
    ├── NotFound (not_found)                                404
    ├── Conflict (conflict)                                 409
    ├── AuthError (unauthorized)                            401
    ├── Forbidden (forbidden)                               403
    ├── ServiceUnavailable (service_unavailable)            503
    │   ├── SpoolFull (ingest.spool)                        the database is down and the local
    │   │                                                   spool is full: retry later
    │   ├── ProtocolError (mqtt_protocol_error,             the broker sent a malformed packet:
    │   │     ingest.mqtt.wire)                             the session disconnects, reconnects
    │   ├── ConnectRefused (mqtt_connect_refused,           the broker refused CONNECT
    │   │     ingest.mqtt.reasons; also ConnectionError)
    │   └── SubscriptionRefused (mqtt_subscription_refused, the broker refused a topic: the
    │         ingest.mqtt.reasons; also ConnectionError)    worker stops (never runs unsubscribed)
    └── DecodeError (decode_error, ``reason`` refines it)   400
        └── BadInput (ingest.formats.mqtt)                  a payload refused with a reject
                                                            reason; the parsers turn it into a
                                                            quarantine record, it never leaves
                                                            ``ingest.formats``

Rule: an exception class that waternet defines derives from one of these (a module-private
signal that never leaves its module, like the session's ``_NoConnAck``, excepted), so that whatever
escapes a package is reported the same way by the API and the CLI. Exceptions of libraries
(psycopg, pydantic, FastAPI) are mapped at the edge: ``waternet.api.errors`` answers
``psycopg.DataError`` with 422, ``psycopg.OperationalError`` (database unreachable) with 503 and
anything unexpected with 500, never echoing their text to clients.
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
