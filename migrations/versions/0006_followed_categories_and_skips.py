"""followed categories and onboarding skips

* ``followed_categories``: the arXiv categories the reader follows, picked on the page
  (``/settings/categories``) or with ``PUT /categories``. While it holds none, the environment's
  ``ARXIV_RECO_CATEGORIES`` is followed (``app.store.categories.followed_categories``). A category
  added on the page records the days fetched for it then (``backfill_first``..``backfill_last``).
* ``onboarding_skips``: papers the reader skipped on the onboarding page; it does not ask them
  again. Deleting a paper deletes its skip.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "followed_categories",
        sa.Column("category", sa.String(length=32), primary_key=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("backfill_first", sa.Date(), nullable=True),
        sa.Column("backfill_last", sa.Date(), nullable=True),
    )
    op.create_table(
        "onboarding_skips",
        sa.Column(
            "paper_id",
            sa.String(length=64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("skipped_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("onboarding_skips")
    op.drop_table("followed_categories")
