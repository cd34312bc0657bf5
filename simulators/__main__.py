"""``python -m simulators scenario|fleet|load`` (see simulators/cli.py and docs/simulators.md)."""

from simulators.cli import main

main()
