"""The ``waternet`` command line. Sub-command groups live in sibling modules; ``main`` is the
console entry point."""

from __future__ import annotations

from waternet.cli.main import app, main, register_commands, report_error

__all__ = ["app", "main", "register_commands", "report_error"]
