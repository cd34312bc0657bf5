"""Job status: what the jobs runner last did, visible to every process.

``job_status`` holds one row per periodic job (``waternet jobs``): when it last started and
succeeded, its last error, how many runs failed in total, when it runs next, and which process
(host:pid) wrote the row. ``waternet jobs --status`` prints it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE job_status (
            job text PRIMARY KEY,
            process text NOT NULL,
            state text NOT NULL,
            last_started timestamptz,
            last_success timestamptz,
            last_error text,
            last_error_at timestamptz,
            failures bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),
            next_run timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS job_status")
