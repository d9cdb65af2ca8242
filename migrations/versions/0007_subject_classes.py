"""subject classes apart from arXiv categories

arXiv's API lists a paper's Mathematics Subject and ACM classes ("68T07 (Primary)", "I.2.7;
K.4.1") among its category terms, and they were stored, shown and offered as categories.
``papers.subject_classes`` keeps them (a JSON list); the stored papers' categories are split
here by the service's one rule (``app.core.config.split_subject_classes``).

A column is added and dropped in place (SQLite's ALTER TABLE, never a batch copy of
``papers``, which would break 0005's full-text view and triggers).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.config import split_subject_classes

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAPERS = sa.table(
    "papers",
    sa.column("id", sa.String),
    sa.column("categories", sa.JSON),
    sa.column("subject_classes", sa.JSON),
)


def _move(rows: list[dict[str, object]]) -> None:
    if rows:
        op.get_bind().execute(
            _PAPERS.update()
            .where(_PAPERS.c.id == sa.bindparam("paper_id"))
            .values(
                categories=sa.bindparam("new_categories"),
                subject_classes=sa.bindparam("new_classes"),
            ),
            rows,
        )


def upgrade() -> None:
    op.add_column(
        "papers",
        sa.Column("subject_classes", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    moved = []
    for paper_id, terms in op.get_bind().execute(sa.select(_PAPERS.c.id, _PAPERS.c.categories)):
        categories, classes = split_subject_classes(terms or [])
        if classes or categories != list(terms or []):
            moved.append(
                {"paper_id": paper_id, "new_categories": categories, "new_classes": classes}
            )
    _move(moved)


def downgrade() -> None:
    bind = op.get_bind()
    back = [
        {"paper_id": paper_id, "new_categories": [*(terms or []), *classes], "new_classes": []}
        for paper_id, terms, classes in bind.execute(
            sa.select(_PAPERS.c.id, _PAPERS.c.categories, _PAPERS.c.subject_classes)
        )
        if classes
    ]
    _move(back)
    if bind.dialect.name == "sqlite":
        op.execute("ALTER TABLE papers DROP COLUMN subject_classes")
    else:
        op.drop_column("papers", "subject_classes")
