"""readers: several people on one install, each with their own topics

* ``readers``: a name, the SHA-256 of the reader's token (the token itself is shown once, never
  stored), an optional digest address. Row 1 is made here with no name and no token: the install's
  one reader before any reader is made, who owns every existing topic. The first reader an admin
  makes takes that row, and so the existing labels, models and digest; while no reader has a token
  the service behaves as before.
* ``topics.reader_id``: whose topic it is. A topic's name is unique per reader (every reader has a
  ``default``), no longer across the install.

SQLite cannot drop the old unique constraint in place, so ``topics`` is copied into its new shape
with its AUTOINCREMENT high-water mark; ``labels`` and ``onboarding_skips``, which reference it,
are copied first so that dropping the old table cascades into nothing. PostgreSQL changes it in
place.

Downgrade keeps the first reader's topics only: every other reader's topics, labels, skips, model
versions (and their scores) and retrain runs are deleted.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_READER_ID = 1
CHANNEL = "arxiv_reco_changed"  # as 0010


def _reader_column() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "reader_id",
        sa.Integer(),
        sa.ForeignKey("readers.id", name="fk_topics_reader"),
        nullable=False,
        server_default=sa.text(str(FIRST_READER_ID)),
    )


def _topic_columns(*, readers: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        *([_reader_column()] if readers else []),
        sa.Column("name", sa.String(length=64), nullable=False, unique=not readers),
        sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    ]


def _child_columns(table: str, target: str) -> list[sa.Column]:  # type: ignore[type-arg]
    """``labels`` or ``onboarding_skips`` as 0008 made them, referencing ``target``."""
    topic = sa.Column(
        "topic_id",
        sa.Integer(),
        sa.ForeignKey(f"{target}.id", ondelete="CASCADE", name=f"fk_{table}_topic"),
        nullable=False,
    )
    paper = sa.Column(
        "paper_id",
        sa.String(length=64),
        sa.ForeignKey("papers.id", ondelete="CASCADE"),
        nullable=False,
    )
    if table == "onboarding_skips":
        return [topic, paper, sa.Column("skipped_at", sa.DateTime(), nullable=False)]
    return [
        topic,
        paper,
        sa.Column("interest", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


PRIMARY_KEYS = {"labels": "pk_labels_by_topic", "onboarding_skips": "pk_onboarding_skips_by_topic"}


def _sqlite_copy_topics(*, readers: bool) -> None:
    """SQLite: ``topics`` in its new shape, its children pointed at it, nothing cascaded."""
    unique = sa.UniqueConstraint("reader_id", "name", name="uq_topics_reader_name")
    op.create_table(
        "topics_new",
        *_topic_columns(readers=readers),
        *([unique] if readers else []),
        sqlite_autoincrement=True,
    )
    fields = "id, name, position, created_at"
    if readers:
        op.execute(
            f"INSERT INTO topics_new (reader_id, {fields}) "
            f"SELECT {FIRST_READER_ID}, {fields} FROM topics"
        )
    else:
        op.execute(
            f"INSERT INTO topics_new ({fields}) SELECT {fields} FROM topics "
            f"WHERE reader_id = {FIRST_READER_ID}"
        )
    # The old table's high-water mark: a deleted topic's id never comes back.
    op.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, "
        "(SELECT seq FROM sqlite_sequence WHERE name = 'topics')) WHERE name = 'topics_new'"
    )
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'topics_new', seq FROM sqlite_sequence "
        "WHERE name = 'topics' AND NOT EXISTS "
        "(SELECT 1 FROM sqlite_sequence WHERE name = 'topics_new')"
    )
    for table in ("labels", "onboarding_skips"):
        columns = _child_columns(table, "topics_new")
        op.create_table(
            f"{table}_new",
            *columns,
            sa.PrimaryKeyConstraint("topic_id", "paper_id", name=PRIMARY_KEYS[table]),
        )
        fields = ", ".join(c.name for c in columns)
        op.execute(
            f"INSERT INTO {table}_new ({fields}) SELECT {fields} FROM {table} "
            "WHERE topic_id IN (SELECT id FROM topics_new)"
        )
        if table == "labels":
            op.drop_index("ix_labels_paper", table_name="labels")
        op.drop_table(table)
        op.rename_table(f"{table}_new", table)
    op.create_index("ix_labels_paper", "labels", ["paper_id"])
    op.drop_table("topics")  # nothing references it any more: nothing cascades
    op.rename_table("topics_new", "topics")  # the children's references follow the rename


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "readers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=True, unique=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("token_created_at", sa.DateTime(), nullable=True),
        sqlite_autoincrement=True,  # a removed reader's id is never given to a new one
    )
    op.execute(
        sa.text("INSERT INTO readers (id, created_at) VALUES (:id, CURRENT_TIMESTAMP)").bindparams(
            id=FIRST_READER_ID
        )
    )
    if postgresql:
        op.execute(f"SELECT setval(pg_get_serial_sequence('readers', 'id'), {FIRST_READER_ID})")
        op.add_column("topics", _reader_column())
        op.drop_constraint("topics_name_key", "topics", type_="unique")
        op.create_unique_constraint("uq_topics_reader_name", "topics", ["reader_id", "name"])
        op.execute(
            "CREATE TRIGGER readers_notify_change "
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON readers "
            "FOR EACH STATEMENT EXECUTE FUNCTION arxiv_reco_notify_change()"
        )
    else:
        _sqlite_copy_topics(readers=True)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    others = f"topic_id IN (SELECT id FROM topics WHERE reader_id <> {FIRST_READER_ID})"
    op.execute(f"DELETE FROM retrain_runs WHERE {others}")
    versions = f"SELECT id FROM model_versions WHERE {others}"
    op.execute(f"DELETE FROM scores WHERE model_version_id IN ({versions})")
    op.execute(f"DELETE FROM model_versions WHERE {others}")
    op.execute(f"DELETE FROM labels WHERE {others}")
    op.execute(f"DELETE FROM onboarding_skips WHERE {others}")
    if postgresql:
        op.execute(f"DELETE FROM topics WHERE reader_id <> {FIRST_READER_ID}")
        op.execute("DROP TRIGGER IF EXISTS readers_notify_change ON readers")
        op.drop_constraint("uq_topics_reader_name", "topics", type_="unique")
        op.create_unique_constraint("topics_name_key", "topics", ["name"])
        op.drop_column("topics", "reader_id")
    else:
        _sqlite_copy_topics(readers=False)
    op.drop_table("readers")
