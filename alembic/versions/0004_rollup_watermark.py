"""Rollup watermark: on-time readings are rolled up by time range, only late ones by key.

``rollup_watermark`` holds one row:

* ``threshold``: the ingest writer records dirty (sensor, 1-minute) keys only for readings
  older than this; readings at or after it need no key, because every bucket from ``done`` up
  to the threshold is recomputed by time range when the threshold passes it. The refresher
  raises it (to a minute boundary a little behind ``now()``) under an exclusive advisory lock
  that waits for the writers in flight, which hold it shared.
* ``done``: every 1-minute bucket before this has been recomputed by range (buckets hit later
  by late readings are dirty keys). It moves in the same transaction as the range it covers.

Both start at the minute of the migration, so existing rollups and dirty keys stay valid.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rollup_watermark (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            threshold timestamptz NOT NULL,
            done timestamptz NOT NULL,
            CHECK (done <= threshold)
        )
        """
    )
    op.execute(
        "INSERT INTO rollup_watermark (threshold, done) "
        "SELECT date_trunc('minute', now()), date_trunc('minute', now())"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS rollup_watermark")
