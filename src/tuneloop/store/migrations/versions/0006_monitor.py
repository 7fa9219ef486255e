"""Monitoring: drift windows, online evaluations, retraining decisions and the retraining lock.

Revision ID: 0006_monitor
Revises: 0005_serving
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_monitor"
down_revision = "0005_serving"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drift_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("model_name", sa.String(500), nullable=False),
        sa.Column("alias", sa.String(100), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("model_reference", sa.String(500), nullable=True),
        sa.Column("window_start", _TS, nullable=True),
        sa.Column("window_end", _TS, nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("n_production", sa.Integer(), nullable=False),
        sa.Column("n_reference", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(50), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("drift", sa.Boolean(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_detail", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("report_json_sha256", sa.String(64), nullable=True),
        sa.Column("report_html_sha256", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name="fk_drift_windows_model_version_id_model_versions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_drift_windows"),
    )
    op.create_index("ix_drift_windows_segment", "drift_windows", ["model_name", "alias"])
    op.create_table(
        "online_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("model_name", sa.String(500), nullable=False),
        sa.Column("alias", sa.String(100), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("model_reference", sa.String(500), nullable=True),
        sa.Column("window_start", _TS, nullable=True),
        sa.Column("window_end", _TS, nullable=True),
        sa.Column("n_logged", sa.Integer(), nullable=False),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("report_json_sha256", sa.String(64), nullable=True),
        sa.Column("report_html_sha256", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name="fk_online_evaluations_model_version_id_model_versions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_online_evaluations"),
    )
    op.create_index("ix_online_evaluations_segment", "online_evaluations", ["model_name", "alias"])
    op.create_table(
        "retrain_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("fired", sa.Boolean(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.Column("run_name", sa.String(200), nullable=True),
        sa.Column("candidate_version_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name="fk_retrain_decisions_dataset_version_id_dataset_versions",
        ),
        sa.ForeignKeyConstraint(
            ["candidate_version_id"],
            ["model_versions.id"],
            name="fk_retrain_decisions_candidate_version_id_model_versions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_retrain_decisions"),
    )
    op.create_index("ix_retrain_decisions_model", "retrain_decisions", ["model"])
    op.create_table(
        "monitor_locks",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(300), nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_monitor_locks"),
    )


def downgrade() -> None:
    op.drop_table("monitor_locks")
    op.drop_table("retrain_decisions")
    op.drop_table("online_evaluations")
    op.drop_table("drift_windows")
