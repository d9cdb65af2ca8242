"""job_lock_holder: what holds the job's one lock, where that lock is the database's

On PostgreSQL the job's one lock is an advisory lock held on a connection of its own (any host
sharing the database sees it, and a dead worker's connection releases it); this one-row table
records what holds it, its process, host and since when, for a refusal to name. On SQLite the
lock stays a file in the data directory and the table stays empty.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_lock_holder",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),  # UTC, as every table keeps it
    )


def downgrade() -> None:
    op.drop_table("job_lock_holder")
