"""covering indexes for a day's papers and their scores

A day's list reads each paper's id and version by day, then its score by (paper, model, version).
With these two indexes SQLite answers both from the indexes alone, without touching the paper
rows (which hold the abstracts): a render at a year of papers went from 14 to 10 ms.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.drop_index("ix_papers_submitted_on")  # a prefix of the covering index
        batch.create_index("ix_papers_day_id_version", ["submitted_on", "id", "version"])
    with op.batch_alter_table("scores") as batch:
        batch.create_index(
            "ix_scores_lookup", ["paper_id", "model_version_id", "paper_version", "probability"]
        )


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_index("ix_scores_lookup")
    with op.batch_alter_table("papers") as batch:
        batch.drop_index("ix_papers_day_id_version")
        batch.create_index("ix_papers_submitted_on", ["submitted_on"])
