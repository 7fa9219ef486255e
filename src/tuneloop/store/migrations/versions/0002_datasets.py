"""Data stage: content-addressed dataset versions.

Revision ID: 0002_datasets
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_datasets"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("num_records", sa.Integer(), nullable=False),
        sa.Column("source_files", sa.JSON(), nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("report_json_sha256", sa.String(64), nullable=True),
        sa.Column("report_html_sha256", sa.String(64), nullable=True),
        sa.Column("gate_passed", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.UniqueConstraint("digest", name="uq_dataset_versions_digest"),
    )


def downgrade() -> None:
    op.drop_table("dataset_versions")
