"""retrain runs: what each retrain did, for /status and the page

Every retrain (the nightly one in the daily job, the page's button, the CLI) records its start,
end, labels, the gate's numbers and its reason, so a reader sees why a model was or was not
activated, from any process.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retrain_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("data_hash", sa.String(length=80), nullable=True),
        sa.Column(
            "model_version_id",
            sa.Integer(),
            sa.ForeignKey("model_versions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("activated", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("gate", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
    )
    op.create_index("ix_retrain_runs_started_at", "retrain_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_retrain_runs_started_at", table_name="retrain_runs")
    op.drop_table("retrain_runs")
