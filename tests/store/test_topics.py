"""Topics (issue 19): migration 0008 up and down with data, names, and deleting one topic
without touching another."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import func, select, text

from app.core.db import Database, alembic_config, session_scope
from app.store.labels import export_labels_csv, import_labels_csv, set_label
from app.store.schema import (
    DEFAULT_TOPIC_ID,
    Label,
    ModelVersion,
    OnboardingSkip,
    RetrainRun,
    Score,
    Topic,
)
from app.store.topics import (
    TopicError,
    TopicExists,
    TopicNotFound,
    create_topic,
    delete_topic,
    find_topic,
    list_topics,
    rename_topic,
    topic_name,
)
from tests.factories import paper_row
from training.inference.layout import DataError

NOW = dt.datetime(2026, 12, 1, 12, 0)


def _rows(database: Database, table: str, where: str = "") -> list[tuple[object, ...]]:
    with database.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} {where}"))]


def test_migration_0008_moves_the_data_into_the_default_topic_and_back(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "0007")  # PostgreSQL's test database comes migrated to the head
    with Database(database_url, migrate=False) as database:
        with database.session() as session:  # the 0007 schema has no topics: raw rows
            for paper_id in ("2601.00001", "2601.00002"):
                session.add(paper_row(paper_id))
            session.flush()
            session.execute(
                text(
                    "INSERT INTO labels (paper_id, interest, source, created_at, updated_at) "
                    "VALUES ('2601.00001', 1, 'web', :now, :now), "
                    "('2601.00002', 0, 'csv', :now, :now)"
                ),
                {"now": NOW},
            )
            session.execute(
                text("INSERT INTO onboarding_skips (paper_id, skipped_at) VALUES (:p, :now)"),
                {"p": "2601.00002", "now": NOW},
            )
            session.execute(
                text(
                    "INSERT INTO model_versions (id, name, path, method, metrics, is_active, "
                    "created_at) VALUES (7, 'm', '/models/m', 'tfidf', '{}', :yes, :now)"
                ),
                {"now": NOW, "yes": True},
            )
            session.execute(
                text(
                    "INSERT INTO scores (paper_id, model_version_id, probability, paper_version, "
                    "scored_at) VALUES ('2601.00001', 7, 0.9, 1, :now)"
                ),
                {"now": NOW},
            )
            session.execute(
                text(
                    "INSERT INTO retrain_runs (trigger, started_at, status, method, labels, "
                    "activated, gate, model_version_id) "
                    "VALUES ('cli', :now, 'success', 'tfidf', 2, :yes, '{}', 7)"
                ),
                {"now": NOW, "yes": True},
            )
        command.upgrade(config, "head")
        with database.session() as session:
            assert [(t.id, t.name) for t in list_topics(session)] == [(1, "default")]
            labels = session.execute(
                select(Label.topic_id, Label.paper_id, Label.interest).order_by(Label.paper_id)
            ).all()
            assert labels == [(1, "2601.00001", 1), (1, "2601.00002", 0)]
            assert session.scalars(select(OnboardingSkip.topic_id)).all() == [1]
            version = session.get_one(ModelVersion, 7)
            assert (version.topic_id, version.is_active) == (1, True)
            assert session.scalars(select(RetrainRun.topic_id)).all() == [1]
            assert session.scalar(select(func.count(Score.id))) == 1
        # A second topic's data goes on the way down; the default topic's stays whole.
        with database.session() as session:
            second = create_topic(session, "LLM-Evaluation")
            set_label(session, paper_id="2601.00001", interest=0, source="web", topic_id=second.id)
            session.add(OnboardingSkip(topic_id=second.id, paper_id="2601.00001"))
            session.add(
                ModelVersion(
                    id=8, topic_id=second.id, name="s", path="/models/s", method="tfidf", metrics={}
                )
            )
            session.flush()
            session.add(Score(paper_id="2601.00002", model_version_id=8, probability=0.2))
            session.add(RetrainRun(topic_id=second.id, trigger="cli", method="tfidf"))
        command.downgrade(config, "0007")
        assert sorted(r[0] for r in _rows(database, "labels")) == ["2601.00001", "2601.00002"]
        assert [r[0] for r in _rows(database, "model_versions")] == [7]
        assert [r[2] for r in _rows(database, "scores")] == [7]  # (id, paper, version, ...)
        assert len(_rows(database, "retrain_runs")) == 1
        assert [r[0] for r in _rows(database, "onboarding_skips")] == ["2601.00002"]
        interest = dict((r[0], r[1]) for r in _rows(database, "labels"))
        assert interest == {"2601.00001": 1, "2601.00002": 0}
        command.upgrade(config, "head")
        with database.session() as session:
            assert [t.name for t in list_topics(session)] == ["default"]
            assert session.scalar(select(func.count()).select_from(Label)) == 2


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("llm-evaluation", "llm-evaluation"), ("  RL-Robotics ", "rl-robotics"), ("x1", "x1")],
)
def test_a_topic_name_is_a_lower_case_slug(typed, stored):
    assert topic_name(typed) == stored


@pytest.mark.parametrize("bad", ["", "two words", "a--b", "-a", "a/b", "é", "x" * 65, "a_b"])
def test_a_name_that_is_no_slug_is_refused_naming_it(bad):
    with pytest.raises(TopicError, match="is not a slug"):
        topic_name(bad)


def test_topics_are_created_renamed_and_found_whatever_the_case(sessions):
    with session_scope(sessions) as session:
        first = create_topic(session, "RL-Robotics")
        second = create_topic(session, "llm-evaluation")
        assert (first.position, second.position) == (1, 2)
        with pytest.raises(TopicExists, match="'rl-robotics' exists already"):
            create_topic(session, "rl-robotics")
        assert find_topic(session, "RL-ROBOTICS").id == first.id
        rename_topic(session, "rl-robotics", "robot-learning")
        with pytest.raises(TopicExists):
            rename_topic(session, "robot-learning", "LLM-evaluation")
        with pytest.raises(TopicNotFound, match="no topic 'rl-robotics'"):
            find_topic(session, "rl-robotics")
        for change in (
            lambda: rename_topic(session, "default", "x"),
            lambda: delete_topic(session, "default"),
        ):
            with pytest.raises(TopicError, match="takes every request without a topic"):
                change()
        assert [t.name for t in list_topics(session)] == [
            "default",
            "robot-learning",
            "llm-evaluation",
        ]


def test_deleting_a_topic_leaves_every_other_topics_labels_models_and_scores(sessions):
    with session_scope(sessions) as session:
        session.add_all([paper_row("2601.00001"), paper_row("2601.00002")])
        session.flush()
        doomed = create_topic(session, "doomed")
        kept = create_topic(session, "kept")
        for topic_id in (DEFAULT_TOPIC_ID, doomed.id, kept.id):
            # The same paper in three topics, ✓ in one and ✕ in the others.
            set_label(
                session,
                paper_id="2601.00001",
                interest=int(topic_id == kept.id),
                source="web",
                topic_id=topic_id,
            )
            version = ModelVersion(
                topic_id=topic_id, name=f"m{topic_id}", path=f"/m/{topic_id}", method="tfidf"
            )
            session.add(version)
            session.flush()
            session.add(Score(paper_id="2601.00002", model_version_id=version.id, probability=0.5))
            session.add(RetrainRun(topic_id=topic_id, trigger="cli", method="tfidf"))
            session.add(OnboardingSkip(topic_id=topic_id, paper_id="2601.00002"))
    with session_scope(sessions) as session:
        before = _snapshot(session, exclude=doomed.id)
        deleted = delete_topic(session, "DOOMED")
        assert (deleted.labels, deleted.model_versions, deleted.retrain_runs) == (1, 1, 1)
    with sessions() as session:
        assert _snapshot(session, exclude=doomed.id) == before
        assert session.get(Topic, doomed.id) is None
        for table in (Label, ModelVersion, RetrainRun, OnboardingSkip):
            assert not session.scalars(select(table).where(table.topic_id == doomed.id)).all()
        assert session.scalar(select(func.count(Score.id))) == 2


def _snapshot(session, *, exclude: int) -> dict[str, list[tuple[object, ...]]]:
    def rows(statement):
        return sorted(tuple(r) for r in session.execute(statement).all())

    return {
        "labels": rows(
            select(Label.topic_id, Label.paper_id, Label.interest).where(Label.topic_id != exclude)
        ),
        "models": rows(
            select(ModelVersion.id, ModelVersion.topic_id).where(ModelVersion.topic_id != exclude)
        ),
        "scores": rows(
            select(Score.model_version_id, Score.paper_id, Score.probability)
            .join(ModelVersion, ModelVersion.id == Score.model_version_id)
            .where(ModelVersion.topic_id != exclude)
        ),
        "runs": rows(select(RetrainRun.id).where(RetrainRun.topic_id != exclude)),
    }


def test_an_export_of_every_topic_imports_back_whole(sessions, tmp_path):
    """The CSV's topic column (issue 19): a paper ✓ in one topic and ✕ in another comes back so
    in a fresh database, its topics made on the way."""
    with session_scope(sessions) as session:
        session.add_all([paper_row("2601.00001"), paper_row("2601.00002")])
        session.flush()
        robots = create_topic(session, "robots").id
        set_label(session, paper_id="2601.00001", interest=0, source="web")
        set_label(session, paper_id="2601.00001", interest=1, source="web", topic_id=robots)
        set_label(session, paper_id="2601.00002", interest=1, source="web", topic_id=robots)
    export = tmp_path / "all.csv"
    with sessions() as session:
        assert export_labels_csv(session, export, None) == 3
    assert pd.read_csv(export)["topic"].tolist() == ["default", "robots", "robots"]
    with Database(f"sqlite:///{tmp_path / 'fresh.db'}") as fresh:
        with fresh.session() as session:
            report = import_labels_csv(session, export)
            assert (report.rows, report.new_labels, report.new_papers) == (3, 3, 2)
        with fresh.session() as session:
            rows = session.execute(
                select(Topic.name, Label.paper_id, Label.interest).join(
                    Topic, Topic.id == Label.topic_id
                )
            ).all()
            assert sorted(tuple(r) for r in rows) == [
                ("default", "2601.00001", 0),
                ("robots", "2601.00001", 1),
                ("robots", "2601.00002", 1),
            ]


def test_a_bad_topic_in_the_csv_names_its_line_and_stores_nothing(sessions, tmp_path):
    with session_scope(sessions) as session:
        session.add(paper_row("2601.00001"))
        session.flush()
        set_label(session, paper_id="2601.00001", interest=1, source="web")
    export = tmp_path / "one.csv"
    with sessions() as session:
        export_labels_csv(session, export, None)
    frame = pd.read_csv(export, dtype=str, keep_default_na=False)
    frame["topic"] = ["two words"]
    frame.to_csv(export, index=False)
    refused = pytest.raises(DataError, match=r"line 2: topic name 'two words' is not a slug")
    with refused, session_scope(sessions) as session:
        import_labels_csv(session, export)
    with sessions() as session:
        assert [t.name for t in list_topics(session)] == ["default"]


HEADER = "paper_id,title,abstract,categories,submission_date,interest"


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        (HEADER + "\n", "no labelled rows"),
        (HEADER + ",topic\n", "no labelled rows"),
        # A blank cell (the --topic given: default) and "Default" land in one topic: one paper
        # twice there is refused as in any file, never one row silently overriding the other.
        (
            HEADER + ",topic\n2601.00001,T,A,cs.LG,2026-01-01,1,\n"
            "2601.00001,T,A,cs.LG,2026-01-01,0, Default\n",
            r"duplicate paper_id values.*2601\.00001 \(lines 2, 3\)",
        ),
        (
            HEADER + ",topic,Topic\n2601.00001,T,A,cs.LG,2026-01-01,1,a,b\n",
            "the column 'topic' appears twice",
        ),
    ],
    ids=["header only", "header only, topic column", "one topic spelt two ways", "topic twice"],
)
def test_a_csv_with_no_rows_or_a_paper_twice_in_one_topic_stores_nothing(
    sessions, tmp_path, text, refused
):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=refused), session_scope(sessions) as session:
        import_labels_csv(session, path)
    with sessions() as session:
        assert session.scalars(select(Label)).all() == []


def test_the_topic_column_is_found_whatever_its_case(sessions, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(HEADER + ", Topic\n2601.00001,T,A,cs.LG,2026-01-01,1,Robots\n")
    with session_scope(sessions) as session:
        assert import_labels_csv(session, path).new_labels == 1
    with sessions() as session:
        robots = find_topic(session, "robots").id
        assert [(lb.topic_id, lb.paper_id) for lb in session.scalars(select(Label))] == [
            (robots, "2601.00001")
        ]
