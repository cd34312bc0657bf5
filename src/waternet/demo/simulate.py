"""``waternet simulate``: the simulators' command group (``python -m simulators``) inside the
waternet CLI. The demo package is the one part of waternet that imports ``simulators``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from simulators.cli import register as register_simulators

    register_simulators(app)
