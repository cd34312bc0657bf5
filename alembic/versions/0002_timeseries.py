"""Time-series store: rollup levels, dirty buckets, DMA boundary meters, meter replacements,
sensor coordinates.

Rollup layout per storage mode (levels from ``waternet.timeseries.levels.LEVELS``):

* ``timescaledb`` (Timescale license): hierarchical continuous aggregates with refresh
  policies, and a compression policy on raw readings (not run in CI: Apache build only).
* ``timescaledb-apache``: service-maintained rollup hypertables, chunk interval per level.
* ``postgres``: service-maintained rollup tables; the 1-minute level is range-partitioned by day
  like the raw readings, the coarser ones are plain tables (small; retention deletes rows).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

from waternet.db.schema import make_time_partitioned, partition_clause, recorded_mode
from waternet.timeseries.levels import DIRTY_TABLE, LEVELS, cagg_sql, table_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COMPRESS_AFTER_DAYS = 7


def _tz() -> str:
    from waternet.config import get_settings

    return get_settings().timezone


def upgrade() -> None:
    bind = op.get_bind()
    mode = recorded_mode(bind)
    op.execute("ALTER TABLE sensors ADD COLUMN lon double precision")
    op.execute("ALTER TABLE sensors ADD COLUMN lat double precision")
    op.execute("CREATE INDEX sensors_lonlat_idx ON sensors (lon, lat)")

    if mode == "timescaledb":
        for lv in LEVELS:
            for stmt in cagg_sql(lv, tz=_tz()):
                op.execute(stmt)
        op.execute(
            "ALTER TABLE readings SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'sensor_id', timescaledb.compress_orderby = 'ts')"
        )
        op.execute(
            f"SELECT add_compression_policy('readings', INTERVAL '{COMPRESS_AFTER_DAYS} days')"
        )
    else:
        for lv in LEVELS:
            partitioned = lv.name == "1m" and mode == "postgres"
            clause = partition_clause(mode, "bucket") if partitioned else ""
            op.execute(table_ddl(lv) + clause)
            if mode == "postgres":
                if partitioned:
                    make_time_partitioned(bind, lv.table, "bucket", mode)
            else:
                secs = int(lv.chunk.total_seconds())
                op.execute(
                    f"SELECT create_hypertable('{lv.table}', by_range('bucket', "
                    f"INTERVAL '{secs} seconds'))"
                )

    op.execute(
        f"""
        CREATE TABLE {DIRTY_TABLE} (
            sensor_id integer NOT NULL,
            bucket timestamptz NOT NULL,
            marked_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (sensor_id, bucket)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE dma_boundary_meters (
            dma text NOT NULL,
            sensor_id integer NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
            direction smallint NOT NULL CHECK (direction IN (1, -1)),
            PRIMARY KEY (dma, sensor_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE meter_replacements (
            id serial PRIMARY KEY,
            sensor_id integer NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
            replaced_at timestamptz NOT NULL,
            old_final_value double precision,
            new_initial_value double precision NOT NULL DEFAULT 0,
            note text,
            UNIQUE (sensor_id, replaced_at)
        )
        """
    )


def downgrade() -> None:
    bind = op.get_bind()
    mode = recorded_mode(bind)
    op.execute("DROP TABLE IF EXISTS meter_replacements")
    op.execute("DROP TABLE IF EXISTS dma_boundary_meters")
    op.execute(f"DROP TABLE IF EXISTS {DIRTY_TABLE}")
    if mode == "timescaledb":
        op.execute("SELECT remove_compression_policy('readings', if_exists => true)")
        for lv in reversed(LEVELS):
            op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {lv.table} CASCADE")
    else:
        for lv in reversed(LEVELS):
            op.execute(f"DROP TABLE IF EXISTS {lv.table} CASCADE")
    op.execute("DROP INDEX IF EXISTS sensors_lonlat_idx")
    op.execute("ALTER TABLE sensors DROP COLUMN IF EXISTS lat")
    op.execute("ALTER TABLE sensors DROP COLUMN IF EXISTS lon")
