"""Foundation: pulled base models and the artifact index.

Revision ID: 0001_foundation
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "base_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("catalog_id", sa.String(200), nullable=True),
        sa.Column("reference", sa.String(500), nullable=False),
        sa.Column("local_path", sa.String(2000), nullable=False),
        sa.Column("weights_sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("architecture", sa.String(200), nullable=True),
        sa.Column("num_parameters", sa.BigInteger(), nullable=True),
        sa.Column("chat_template_sha256", sa.String(64), nullable=True),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_base_models"),
        sa.UniqueConstraint("reference", name="uq_base_models_reference"),
    )
    op.create_index("ix_base_models_catalog_id", "base_models", ["catalog_id"])
    op.create_table(
        "artifacts",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.String(500), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_artifacts"),
    )
    op.create_index("ix_artifacts_kind", "artifacts", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_artifacts_kind", "artifacts")
    op.drop_table("artifacts")
    op.drop_index("ix_base_models_catalog_id", "base_models")
    op.drop_table("base_models")
