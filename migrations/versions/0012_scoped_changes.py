"""scoped changes: which topic a commit changed, so that a cached list of another stays

The response cache kept every rendered day list until the next commit, any commit: thirty topics
retrained and re-scored in a night re-rendered every reader's every list at each of their
commits (``bench/lab.py``). A list depends on its own topic's scores, labels, skips, model
versions and retrain runs, and on what every topic shares (papers, topics, runs, categories,
readers). Now a commit says which topics it changed:

* SQLite: ``change_counters`` (scope 0 for what every topic shares, else a topic's id), bumped by
  row triggers in the writer's own transaction (SQLite has one writer at a time: no new wait);
  the cache reads the small table again when the commit counter moves.
* PostgreSQL: no table (a counter row would make concurrent writers of one topic wait on each
  other); the topic tables' statement triggers name the changed topics in the notification's
  payload (``t:3,7``), from their transition tables; the shared tables notify as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "arxiv_reco_changed"  # as 0010
TOPIC_TABLES = ("scores", "labels", "onboarding_skips", "model_versions", "retrain_runs")
SHARED_TABLES = ("papers", "topics", "ingest_runs", "followed_categories", "readers")
EVENTS = {"INSERT": ("NEW",), "UPDATE": ("NEW", "OLD"), "DELETE": ("OLD",)}


def _sqlite_scope(table: str, row: str) -> str:
    if table == "scores":
        return f"SELECT topic_id, 1 FROM model_versions WHERE id = {row}.model_version_id"
    if table in TOPIC_TABLES:
        return f"SELECT {row}.topic_id, 1 WHERE true"
    return "SELECT 0, 1 WHERE true"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
        return
    op.execute("CREATE TABLE change_counters (scope INTEGER PRIMARY KEY, counter INTEGER NOT NULL)")
    for table in (*TOPIC_TABLES, *SHARED_TABLES):
        for event, rows in EVENTS.items():
            bumps = " ".join(
                f"INSERT INTO change_counters (scope, counter) {_sqlite_scope(table, row)} "
                "ON CONFLICT (scope) DO UPDATE SET counter = counter + 1;"
                for row in rows
            )
            op.execute(
                f"CREATE TRIGGER {table}_count_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {bumps} END"
            )


def _postgresql_upgrade() -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION arxiv_reco_notify_topics() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ DECLARE scopes text; BEGIN "
        "IF TG_TABLE_NAME = 'scores' THEN "
        "SELECT string_agg(DISTINCT v.topic_id::text, ',') INTO scopes FROM changed c "
        "JOIN model_versions v ON v.id = c.model_version_id; "
        "ELSE SELECT string_agg(DISTINCT topic_id::text, ',') INTO scopes FROM changed; "
        "END IF; "
        f"IF scopes IS NOT NULL THEN PERFORM pg_notify('{CHANNEL}', 't:' || scopes); END IF; "
        "RETURN NULL; END $$"
    )
    for table in TOPIC_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_notify_change AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION arxiv_reco_notify_change()"
        )
        for event, rows in EVENTS.items():
            for row in rows:
                op.execute(
                    f"CREATE TRIGGER {table}_notify_{event.lower()}_{row.lower()} "
                    f"AFTER {event} ON {table} REFERENCING {row} TABLE AS changed "
                    "FOR EACH STATEMENT EXECUTE FUNCTION arxiv_reco_notify_topics()"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for table in (*TOPIC_TABLES, *SHARED_TABLES):
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_count_{event.lower()}")
        op.execute("DROP TABLE change_counters")
        return
    for table in TOPIC_TABLES:
        for event, rows in EVENTS.items():
            for row in rows:
                op.execute(
                    f"DROP TRIGGER IF EXISTS {table}_notify_{event.lower()}_{row.lower()} "
                    f"ON {table}"
                )
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_notify_change "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION arxiv_reco_notify_change()"
        )
    op.execute("DROP FUNCTION IF EXISTS arxiv_reco_notify_topics()")
