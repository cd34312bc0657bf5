"""Network versions' content: the model stored column-wise in compressed chunks.

``network_versions`` (0001) holds one row per imported version (name, source, active, stats,
warnings). Its content is the whole model (``waternet.network.repository`` encodes it: per
section, up to ``CHUNK_ROWS`` elements per chunk, columns as JSON, zlib-compressed) so that a
version loads fast into memory; bbox, pick and detail queries are answered from the cached
in-memory version, so there are no per-feature rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE network_documents (
            version_id integer PRIMARY KEY
                REFERENCES network_versions(id) ON DELETE CASCADE,
            encoding text NOT NULL,
            header jsonb NOT NULL,
            raw_bytes bigint NOT NULL CHECK (raw_bytes >= 0),
            stored_bytes bigint NOT NULL CHECK (stored_bytes >= 0)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE network_chunks (
            version_id integer NOT NULL
                REFERENCES network_documents(version_id) ON DELETE CASCADE,
            section text NOT NULL,
            seq integer NOT NULL CHECK (seq >= 0),
            n_rows integer NOT NULL CHECK (n_rows >= 0),
            body bytea NOT NULL,
            PRIMARY KEY (version_id, section, seq)
        )
        """
    )
    # chunks are already compressed: keep PostgreSQL from trying again
    op.execute("ALTER TABLE network_chunks ALTER COLUMN body SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS network_chunks")
    op.execute("DROP TABLE IF EXISTS network_documents")
