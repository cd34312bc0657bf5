"""waternet: water-utility telemetry and incident-response service."""

__version__ = "0.1.0"
