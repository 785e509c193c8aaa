"""Workflows, their enrollments (runs) and each action's outcome.

Revision ID: 0015
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("reenroll", sa.Boolean, nullable=False),
        sa.Column("trigger", sa.JSON, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflows"),
    )
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(60), nullable=False),
        sa.Column("workflow_id", sa.Integer, nullable=False),
        sa.Column("contact_id", sa.BigInteger, nullable=False),
        sa.Column("address", sa.String(320), nullable=True),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("once_key", sa.String(40), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_runs"),
        sa.UniqueConstraint("once_key", name="uq_workflow_runs_once_key"),
    )
    op.create_index("ix_workflow_runs_workflow_id_id", "workflow_runs", ["workflow_id", "id"])
    op.create_table(
        "workflow_run_actions",
        sa.Column("run_id", sa.String(60), nullable=False),
        sa.Column("position", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("workflow_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("subscription_type_id", sa.Integer, nullable=True),
        sa.Column("business_unit_id", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_workflow_run_actions"),
    )
    op.create_index(
        "ix_workflow_run_actions_workflow_id_outcome", "workflow_run_actions", ["workflow_id", "outcome"]
    )


def downgrade() -> None:
    op.drop_table("workflow_run_actions")
    op.drop_index("ix_workflow_runs_workflow_id_id", table_name="workflow_runs")
    op.drop_table("workflow_runs")
    op.drop_table("workflows")
