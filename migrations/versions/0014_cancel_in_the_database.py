"""job_lock_holder.cancel_requested: a cancel of the running ingestion, where the lock is the
database's

``DELETE /ingest`` asked the running ingestion to stop with a file beside the job's lock, in the
data directory of the process that answered it. On PostgreSQL the worker that runs the job may be
on another host, with a data directory of its own, and never saw the file. The request is now
stamped on the lock holder's row, which every host sees and which goes with the lock; on SQLite
the lock and the cancel stay files in the data directory.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_lock_holder") as table:
        table.add_column(sa.Column("cancel_requested", sa.DateTime(), nullable=True))  # UTC


def downgrade() -> None:
    with op.batch_alter_table("job_lock_holder") as table:
        table.drop_column("cancel_requested")
