"""Serving: alias moves as compare-and-swap with their evidence; API keys, request log, feedback.

Revision ID: 0005_serving
Revises: 0004_eval
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_serving"
down_revision = "0004_eval"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("aliases") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("alias_history") as batch:
        batch.add_column(sa.Column("forced", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("can_feedback", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("key_sha256", name="uq_api_keys_key_sha256"),
    )
    op.create_table(
        "request_log",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("endpoint", sa.String(50), nullable=False),
        sa.Column("model_requested", sa.String(500), nullable=False),
        sa.Column("model_name", sa.String(500), nullable=False),
        sa.Column("model_reference", sa.String(500), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("alias", sa.String(100), nullable=True),
        sa.Column("api_key_name", sa.String(200), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["model_versions.id"], name="fk_request_log_model_version_id_model_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_request_log"),
    )
    op.create_index("ix_request_log_created_at", "request_log", ["created_at"])
    op.create_index("ix_request_log_model_name", "request_log", ["model_name"])
    op.create_index("ix_request_log_model_version_id", "request_log", ["model_version_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("corrected_answer", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("api_key_name", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["request_log.id"], name="fk_feedback_request_id_request_log"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_request_id", "feedback", ["request_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("request_log")
    op.drop_table("api_keys")
    with op.batch_alter_table("alias_history") as batch:
        batch.drop_column("details")
        batch.drop_column("forced")
    with op.batch_alter_table("aliases") as batch:
        batch.drop_column("revision")
