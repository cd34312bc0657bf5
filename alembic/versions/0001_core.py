"""Core tables: meta, users, sensors, readings, latest values, quarantine, network versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import context, op
from sqlalchemy import text

from waternet.db.schema import (
    DROP_PARTITION_FUNCTIONS,
    PARTITION_FUNCTIONS,
    choose_mode,
    get_meta,
    make_time_partitioned,
    partition_clause,
    set_meta,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("CREATE TABLE waternet_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
    requested = context.config.attributes.get("storage_mode", "auto")
    mode = choose_mode(bind, requested)
    set_meta(bind, "storage_mode", mode)
    op.execute(PARTITION_FUNCTIONS)

    op.execute(
        """
        CREATE TABLE users (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
            password_hash text NOT NULL,
            role text NOT NULL CHECK (role IN ('admin','dispatcher','crew','analyst','service')),
            disabled boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE sensors (
            id serial PRIMARY KEY,
            code text NOT NULL UNIQUE,
            kind text NOT NULL,
            unit text NOT NULL,
            min_value double precision,
            max_value double precision,
            node_id text,
            link_id text,
            dma text,
            transport text NOT NULL DEFAULT 'mqtt' CHECK (transport IN ('mqtt','nbiot')),
            imei text UNIQUE,
            model text,
            status text NOT NULL DEFAULT 'active'
                CHECK (status IN ('active','maintenance','disabled','retired')),
            meta jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX sensors_kind_idx ON sensors (kind)")
    op.execute("CREATE INDEX sensors_dma_idx ON sensors (dma)")
    op.execute(
        f"""
        CREATE TABLE readings (
            sensor_id integer NOT NULL,
            ts timestamptz NOT NULL,
            value double precision NOT NULL,
            quality smallint NOT NULL DEFAULT 0,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (sensor_id, ts)
        ){partition_clause(mode, "ts")}
        """
    )
    make_time_partitioned(bind, "readings", "ts", mode)
    op.execute(
        """
        CREATE TABLE latest_readings (
            sensor_id integer PRIMARY KEY REFERENCES sensors(id) ON DELETE CASCADE,
            ts timestamptz NOT NULL,
            value double precision NOT NULL,
            quality smallint NOT NULL DEFAULT 0,
            received_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE quarantine (
            id bigserial PRIMARY KEY,
            received_at timestamptz NOT NULL DEFAULT now(),
            source text NOT NULL,
            reason text NOT NULL,
            sensor_code text,
            topic text,
            detail text,
            payload bytea,
            payload_size integer NOT NULL DEFAULT 0,
            -- hash of (source, topic, payload, position): a redelivered message is not
            -- quarantined twice
            fingerprint bytea NOT NULL UNIQUE
        )
        """
    )
    op.execute("CREATE INDEX quarantine_reason_idx ON quarantine (reason, received_at)")
    op.execute("CREATE INDEX quarantine_received_idx ON quarantine (received_at)")
    op.execute(
        """
        CREATE TABLE network_versions (
            id serial PRIMARY KEY,
            name text NOT NULL,
            source text NOT NULL,
            active boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text,
            stats jsonb NOT NULL DEFAULT '{}'::jsonb,
            warnings jsonb NOT NULL DEFAULT '[]'::jsonb
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX network_versions_one_active ON network_versions (active) WHERE active"
    )


def downgrade() -> None:
    bind = op.get_bind()
    created_ts = bool(get_meta(bind, "created_timescaledb"))
    for table in (
        "network_versions",
        "quarantine",
        "latest_readings",
        "readings",
        "sensors",
        "users",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute(DROP_PARTITION_FUNCTIONS)
    op.execute("DROP TABLE waternet_meta")
    if created_ts:
        bind.execute(text("DROP EXTENSION IF EXISTS timescaledb"))
