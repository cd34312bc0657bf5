"""The HTTP API: app factory, dependencies, error mapping, health and metrics."""
