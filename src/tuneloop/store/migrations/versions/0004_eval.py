"""Evaluation: per-item scores of every evaluation.

Revision ID: 0004_eval
Revises: 0003_runs_registry
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_eval"
down_revision = "0003_runs_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_item_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("model_reference", sa.String(500), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("model_identity", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name="fk_eval_item_scores_evaluation_id_evaluations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_eval_item_scores"),
    )
    op.create_index("ix_eval_item_scores_evaluation_metric", "eval_item_scores", ["evaluation_id", "metric"])
    op.create_index("ix_eval_item_scores_item", "eval_item_scores", ["item_id"])


def downgrade() -> None:
    op.drop_table("eval_item_scores")
