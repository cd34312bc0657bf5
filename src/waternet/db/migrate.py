"""Run the Alembic migrations programmatically (``waternet migrate``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

from waternet.errors import ConfigError


def script_location() -> Path:
    """The ``alembic/`` folder: packaged (wheel) or at the repository root (editable)."""
    packaged = Path(str(files("waternet"))) / "_alembic"
    if (packaged / "env.py").exists():
        return packaged
    repo = Path(__file__).resolve().parents[3] / "alembic"
    if (repo / "env.py").exists():
        return repo
    raise ConfigError("cannot find the alembic migrations folder")


def _config(url: str, storage_mode: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.attributes["database_url"] = url
    cfg.attributes["storage_mode"] = storage_mode
    return cfg


def _run(url: str, storage_mode: str, fn: str, target: str) -> None:
    cfg = _config(url, storage_mode)
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, fn)(cfg, target)
        conn.commit()
    engine.dispose()


def upgrade(url: str, *, revision: str = "head", storage_mode: str = "auto") -> None:
    _run(url, storage_mode, "upgrade", revision)


def downgrade(url: str, *, revision: str = "base") -> None:
    _run(url, "auto", "downgrade", revision)


def current_revision(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    return str(head)
