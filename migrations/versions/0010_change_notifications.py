"""change notifications: PostgreSQL tells listeners when stored data changes

A statement-level trigger on every table a page shows sends ``NOTIFY arxiv_reco_changed`` (one
per transaction: PostgreSQL folds equal notifications, and delivers them only at commit). Each
service process's response cache listens on one connection of its own and renders again after a
notification, so a cached day list never outlives a commit, from any process on any host. SQLite
needs none of it: its cache watches ``PRAGMA data_version``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "arxiv_reco_changed"
TABLES = (
    "papers",
    "scores",
    "labels",
    "model_versions",
    "topics",
    "ingest_runs",
    "retrain_runs",
    "followed_categories",
    "onboarding_skips",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION arxiv_reco_notify_change() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION arxiv_reco_notify_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS arxiv_reco_notify_change()")
