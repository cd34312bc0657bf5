"""Alembic environment: plain SQL migrations (op.execute) over a psycopg 3 connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url")
    if not url:
        from waternet.config import get_settings

        url = get_settings().database_url
    if not url:
        raise SystemExit("WATERNET_DATABASE_URL is not set")
    return str(url)


def run_migrations_offline() -> None:
    context.configure(
        url="postgresql+psycopg://", literal_binds=True, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    import psycopg

    url = _url()
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(connection=conn, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
