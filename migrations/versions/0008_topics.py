"""topics: several interests, each with its own labels, models, scores and retrains

* ``topics``: the reader's interests (a URL-safe name, unique; their order). The data before
  topics becomes the topic ``default`` (id 1), which is never renamed nor deleted.
* ``labels`` and ``onboarding_skips`` are keyed by (topic, paper): a paper can be ✓ in one topic
  and ✕ in another. Both tables are copied into their new shape (they are referenced by no
  other table, so the copy cascades into nothing).
* ``model_versions.topic_id`` and ``retrain_runs.topic_id``: added in place with no foreign key,
  since SQLite adds none in place and copying ``model_versions`` would cascade into ``scores``
  (deleting a topic deletes its versions and runs in the service, ``app.store.topics``). Scores
  belong to a model version, so to its topic.

Downgrade keeps the topic ``default`` only: the other topics' labels, skips, model versions
(and their scores) and retrain runs are deleted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_TOPIC_ID = 1


def _label_columns(*, topics: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    topic = [
        sa.Column(
            "topic_id",
            sa.Integer(),
            sa.ForeignKey("topics.id", ondelete="CASCADE", name="fk_labels_topic"),
            nullable=False,
        )
    ]
    return [
        *(topic if topics else []),
        sa.Column(
            "paper_id",
            sa.String(length=64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("interest", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def _skip_columns(*, topics: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    topic = [
        sa.Column(
            "topic_id",
            sa.Integer(),
            sa.ForeignKey("topics.id", ondelete="CASCADE", name="fk_onboarding_skips_topic"),
            nullable=False,
        )
    ]
    return [
        *(topic if topics else []),
        sa.Column(
            "paper_id",
            sa.String(length=64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("skipped_at", sa.DateTime(), nullable=False),
    ]


def _copy(  # type: ignore[type-arg]
    table: str, columns: list[sa.Column], key: list[str], select: str, *, primary_key: str
) -> None:
    """``table`` in a new shape: a new table filled by ``select``, the old one dropped. The
    primary key's name differs from the old one's (PostgreSQL names its index in the schema)."""
    op.create_table(f"{table}_new", *columns, sa.PrimaryKeyConstraint(*key, name=primary_key))
    names = ", ".join(c.name for c in columns)
    op.execute(f"INSERT INTO {table}_new ({names}) {select}")
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)


def upgrade() -> None:
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True),
        sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,  # a deleted topic's id is never given to a new one
    )
    op.execute(
        sa.text(
            "INSERT INTO topics (id, name, position, created_at) "
            "VALUES (:id, 'default', 0, CURRENT_TIMESTAMP)"
        ).bindparams(id=DEFAULT_TOPIC_ID)
    )
    if op.get_bind().dialect.name == "postgresql":  # the next topic after the one inserted
        op.execute("SELECT setval(pg_get_serial_sequence('topics', 'id'), 1)")
    fields = "paper_id, interest, source, created_at, updated_at"
    _copy(
        "labels",
        _label_columns(topics=True),
        ["topic_id", "paper_id"],
        f"SELECT {DEFAULT_TOPIC_ID}, {fields} FROM labels",
        primary_key="pk_labels_by_topic",
    )
    op.create_index("ix_labels_paper", "labels", ["paper_id"])
    _copy(
        "onboarding_skips",
        _skip_columns(topics=True),
        ["topic_id", "paper_id"],
        f"SELECT {DEFAULT_TOPIC_ID}, paper_id, skipped_at FROM onboarding_skips",
        primary_key="pk_onboarding_skips_by_topic",
    )
    for table in ("model_versions", "retrain_runs"):
        op.add_column(
            table,
            sa.Column(
                "topic_id",
                sa.Integer(),
                nullable=False,
                server_default=sa.text(str(DEFAULT_TOPIC_ID)),
            ),
        )
    op.create_index("ix_model_versions_topic_active", "model_versions", ["topic_id", "is_active"])
    op.create_index("ix_retrain_runs_topic", "retrain_runs", ["topic_id"])


def downgrade() -> None:
    others = f"topic_id <> {DEFAULT_TOPIC_ID}"
    op.execute(f"DELETE FROM retrain_runs WHERE {others}")
    # Their scores first: the foreign key cascades only where the backend enforces it.
    versions = f"SELECT id FROM model_versions WHERE {others}"
    op.execute(f"DELETE FROM scores WHERE model_version_id IN ({versions})")
    op.execute(f"DELETE FROM model_versions WHERE {others}")
    op.drop_index("ix_retrain_runs_topic", table_name="retrain_runs")
    op.drop_index("ix_model_versions_topic_active", table_name="model_versions")
    for table in ("model_versions", "retrain_runs"):
        if op.get_bind().dialect.name == "sqlite":
            # In place, never a batch copy of model_versions (which would cascade into scores).
            op.execute(f"ALTER TABLE {table} DROP COLUMN topic_id")
        else:
            op.drop_column(table, "topic_id")
    _copy(
        "onboarding_skips",
        _skip_columns(topics=False),
        ["paper_id"],
        f"SELECT paper_id, skipped_at FROM onboarding_skips WHERE topic_id = {DEFAULT_TOPIC_ID}",
        primary_key="onboarding_skips_pkey",  # the name 0006 gave it on PostgreSQL
    )
    op.drop_index("ix_labels_paper", table_name="labels")
    _copy(
        "labels",
        _label_columns(topics=False),
        ["paper_id"],
        "SELECT paper_id, interest, source, created_at, updated_at FROM labels "
        f"WHERE topic_id = {DEFAULT_TOPIC_ID}",
        primary_key="labels_pkey",  # the name 0001 gave it on PostgreSQL
    )
    op.drop_table("topics")
