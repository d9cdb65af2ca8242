"""score changes: a commit of scores says so, apart from the topic's other changes

Migration 0012 made each commit say which topics it changed. A re-scoring commits a topic's new
scores every 2 seconds for minutes, and every such commit made the topic's cached lists wait for
a fresh rendering (``bench/lab.py``: requests of that topic waited 100-300 ms for it). Scores
are the job's, never a reader's own write: now they are told apart from the topic's labels,
skips, model versions and retrain runs, so the response cache may answer a list as it was while
its rescored one renders (``app.core.cache``), and never after the reader's own change.

* SQLite: the ``scores`` triggers bump ``change_counters`` at scope ``-topic_id``.
* PostgreSQL: the ``scores`` statement triggers notify ``s:3,7`` instead of ``t:3,7``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "arxiv_reco_changed"  # as 0010
EVENTS = {"INSERT": ("NEW",), "UPDATE": ("NEW", "OLD"), "DELETE": ("OLD",)}


def _sqlite_score_triggers(sign: str) -> None:
    for event, rows in EVENTS.items():
        bumps = " ".join(
            "INSERT INTO change_counters (scope, counter) "
            f"SELECT {sign}topic_id, 1 FROM model_versions WHERE id = {row}.model_version_id "
            "ON CONFLICT (scope) DO UPDATE SET counter = counter + 1;"
            for row in rows
        )
        op.execute(f"DROP TRIGGER IF EXISTS scores_count_{event.lower()}")
        op.execute(
            f"CREATE TRIGGER scores_count_{event.lower()} AFTER {event} ON scores BEGIN {bumps} END"
        )


def _postgresql_function(score_prefix: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION arxiv_reco_notify_topics() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ DECLARE scopes text; prefix text := 't:'; BEGIN "
        "IF TG_TABLE_NAME = 'scores' THEN "
        f"prefix := '{score_prefix}'; "
        "SELECT string_agg(DISTINCT v.topic_id::text, ',') INTO scopes FROM changed c "
        "JOIN model_versions v ON v.id = c.model_version_id; "
        "ELSE SELECT string_agg(DISTINCT topic_id::text, ',') INTO scopes FROM changed; "
        "END IF; "
        f"IF scopes IS NOT NULL THEN PERFORM pg_notify('{CHANNEL}', prefix || scopes); END IF; "
        "RETURN NULL; END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_function("s:")
    else:
        _sqlite_score_triggers("-")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_function("t:")
    else:
        _sqlite_score_triggers("")
