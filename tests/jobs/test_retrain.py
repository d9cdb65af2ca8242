from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sqlalchemy import func, select

from app.cli import main
from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.jobs.retrain import last_retrain, nightly_retrain, reader_labels, retrain
from app.jobs.scheduler import DailyJob
from app.serving.registry import active_model, list_models, rollback_model
from app.store import queries
from app.store.labels import import_labels_csv, set_label
from app.store.schema import (
    DEFAULT_TOPIC_ID,
    IngestRun,
    Label,
    ModelVersion,
    Paper,
    RetrainRun,
    Score,
)
from tests.conftest import LABELS_CSV
from tests.factories import activate_model_dir, with_metadata, write_labels_csv
from training.inference.artifact import (
    LEGACY_FILES,
    ROWS_FILE,
    TFIDF_PIPELINE_FILE,
    TRAIN_CONFIG_FILE,
    ModelMeta,
    compose_text,
)
from training.inference.layout import data_hash, load_labelled_csv


@pytest.fixture
def labelled(sessions):
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    return sessions


def _active_id(sessions):
    with sessions() as session:
        version = active_model(session)
        return None if version is None else version.id


def test_the_first_retrain_is_activated_and_a_second_equal_one_too(labelled, settings):
    first = retrain(labelled, settings)
    assert first.activated and first.reason == "no model was active"
    assert first.labels == 300 and first.method == "tfidf"
    assert _active_id(labelled) == first.version_id
    second = retrain(labelled, settings)
    assert second.active_version_id == first.version_id
    # The same recipe refit on the labels: like with like, it replaces the active model.
    assert second.gate["kind"] == "same recipe" and "broken" not in second.gate
    assert second.activated and "the same recipe refit on 300 labels" in second.reason
    assert _active_id(labelled) == second.version_id


def test_a_retrain_reads_the_stored_authors_and_comments(sessions, settings, tmp_path):
    labels = write_labels_csv(with_metadata(load_labelled_csv(LABELS_CSV)), tmp_path / "l.csv")
    with session_scope(sessions) as session:
        import_labels_csv(session, labels)
    outcome = retrain(sessions, settings)
    with sessions() as session:
        path = active_model(session).path
    meta = ModelMeta.load(path)
    assert outcome.activated and meta.method == "tfidf"
    assert meta.meta_fields == ["authors", "comment"]
    again = retrain(sessions, settings)
    assert again.activated and again.gate["kind"] == "same recipe"


def test_a_worse_retrain_is_kept_but_not_activated_and_rollback_restores(
    labelled, settings, tmp_path
):
    # An "active model" that memorised every label, test rows included, cannot be beaten.
    frame = pd.read_csv(LABELS_CSV)
    texts = [compose_text(t, a) for t, a in zip(frame.title, frame.abstract, strict=True)]
    oracle = make_pipeline(TfidfVectorizer(), LogisticRegression(C=1e4, max_iter=5000))
    oracle.fit(texts, frame.interest)
    directory = tmp_path / "oracle"
    directory.mkdir()
    # Written as older models were: a joblib file, which still loads.
    joblib.dump(oracle, directory / LEGACY_FILES[TFIDF_PIPELINE_FILE])
    ModelMeta(method="tfidf", threshold=0.5, max_length=0, base_model="oracle").save(directory)
    oracle_id = activate_model_dir(labelled, directory, name="oracle")

    outcome = retrain(labelled, settings)
    assert not outcome.activated
    assert outcome.active_average_precision > outcome.new_average_precision
    assert "kept the active model" in outcome.reason
    assert _active_id(labelled) == oracle_id

    forced = retrain(labelled, settings, force=True)
    assert forced.activated and _active_id(labelled) == forced.version_id
    with session_scope(labelled) as session:
        assert rollback_model(session).id == oracle_id
    with labelled() as session:
        assert len(list_models(session)) == 3


def test_without_a_recorded_recipe_the_gate_compares_on_labels_the_active_one_never_saw(
    sessions, settings, tmp_path
):
    frame = load_labelled_csv(LABELS_CSV)
    older, newer = frame.iloc[:240], frame.iloc[240:]  # the file is in date order
    with session_scope(sessions) as session:
        import_labels_csv(session, write_labels_csv(older, tmp_path / "older.csv"))
    first = retrain(sessions, settings)
    # A model from before recipes were recorded (or trained elsewhere).
    (Path(_path_of(sessions, first.version_id)) / TRAIN_CONFIG_FILE).unlink()
    with session_scope(sessions) as session:
        import_labels_csv(session, write_labels_csv(newer, tmp_path / "newer.csv"))
    second = retrain(sessions, settings, tolerance=1.0)
    gate = second.gate
    # The newest split is exactly the 60 new labels, none of which the active model saw.
    assert gate["kind"] == "unseen rows"
    assert (gate["test_rows"], gate["unseen_rows"]) == (60, 60)
    assert gate["unseen_positives"] == int(newer["interest"].sum()) >= 5
    assert gate["on"] == "labels the active model was not fit on"
    assert second.active_version_id == first.version_id
    assert 0 < second.new_average_precision <= 1 and 0 < second.active_average_precision <= 1
    assert second.activated  # tolerance 1: any AP passes
    with sessions() as session:
        runs = session.scalars(select(RetrainRun).order_by(RetrainRun.id)).all()
    assert [(r.trigger, r.status, r.activated) for r in runs] == [
        ("cli", "success", True),
        ("cli", "success", True),
    ]
    assert runs[1].gate["unseen_rows"] == 60 and runs[1].labels == 300


def test_the_nightly_retrain_runs_only_when_the_labels_changed(labelled, settings):
    first = nightly_retrain(labelled, settings)
    assert first is not None and first.activated
    assert nightly_retrain(labelled, settings) is None  # nothing changed
    with labelled() as session:
        paper_id = session.scalars(select(Label.paper_id).limit(1)).one()
    with session_scope(labelled) as session:
        label = session.get_one(Label, (DEFAULT_TOPIC_ID, paper_id))
        set_label(session, paper_id=paper_id, interest=1 - label.interest, source="web")
    again = nightly_retrain(labelled, settings)
    assert again is not None and again.activated
    with labelled() as session:
        assert last_retrain(session).trigger == "nightly"
    off = settings.model_copy(update={"nightly_retrain": False})
    with session_scope(labelled) as session:
        set_label(session, paper_id=paper_id, interest=label.interest, source="web")
    assert nightly_retrain(labelled, off) is None


def test_a_nightly_retrain_hashes_its_labels_once_and_records_the_same_hash(
    labelled, settings, monkeypatch
):
    """The nightly check, the retrain run and the model directory share one fingerprint of the
    labels, computed once (issue 18: they were hashed three times in one retrain)."""
    import training.inference.layout as layout

    calls = []
    real = layout.data_hash

    def counted(frame):
        calls.append(len(frame))
        return real(frame)

    for module in ("app.jobs.retrain", "training.train", "training.early"):
        monkeypatch.setattr(f"{module}.data_hash", counted)
    outcome = nightly_retrain(labelled, settings)
    assert outcome is not None and outcome.activated
    assert len(calls) == 1
    with labelled() as session:
        run = last_retrain(session)
        version = session.get_one(ModelVersion, outcome.version_id)
        assert run.data_hash == ModelMeta.load(Path(version.path)).info["data_hash"]
        assert run.data_hash == real(reader_labels(session))


def test_the_daily_job_retrains_and_rescores_every_stored_day(labelled, settings, holder, standin):
    ingest_day(labelled, dt.date(2025, 3, 19), settings)  # before any model: stored only
    reports = DailyJob(labelled, settings, holder).run(today=dt.date(2025, 3, 24))
    assert [r.status for r in reports] == ["success"] * 3
    active = _active_id(labelled)
    assert active is not None
    with labelled() as session:
        days = sorted(
            session.scalars(select(IngestRun.day).where(IngestRun.fetched > 0).distinct()).all()
        )
        assert dt.date(2025, 3, 19) in days
        for day in days:
            result = queries.day_recommendations(
                session,
                day=day,
                model_version_id=active,
                threshold=0.5,
                include_all=True,
                limit=None,
            )
            assert result.pending == 0, f"{day} not re-scored"
        assert last_retrain(session).trigger == "nightly"


def test_retrain_without_labels_is_refused_with_a_message(sessions, settings, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    with pytest.raises(SystemExit, match="retrain refused: no labels yet: mark a paper"):
        main(["retrain"])


def test_cli_labels_models_and_retrain(labelled, settings, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    assert main(["labels", "import", str(LABELS_CSV)]) == 0
    assert "0 new labels, 0 changed, 300 unchanged" in capsys.readouterr().out
    exported = tmp_path / "out" / "labels.csv"
    assert main(["labels", "export", str(exported)]) == 0
    assert data_hash(load_labelled_csv(exported)) == data_hash(load_labelled_csv(LABELS_CSV))
    assert main(["retrain"]) == 0
    assert "no model was active" in capsys.readouterr().out
    assert main(["retrain", "--method", "tfidf"]) == 0
    capsys.readouterr()
    assert main(["models", "rollback"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].startswith(" ") and listing[2].startswith("*")  # newest first
    with pytest.raises(SystemExit, match="no model version 99"):
        main(["models", "activate", "99"])


def test_cli_import_of_a_bad_file_names_the_rows(sessions, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    bad = tmp_path / "bad.csv"
    bad.write_text("paper_id,title,abstract\n1,a,b\n")
    with pytest.raises(SystemExit, match="nothing imported: .*missing"):
        main(["labels", "import", str(bad)])


def test_a_rollback_holds_and_a_refused_candidate_is_not_retrained_every_night(labelled, settings):
    first = nightly_retrain(labelled, settings)
    with labelled() as session:
        paper_id = session.scalars(select(Label.paper_id).limit(1)).one()
    with session_scope(labelled) as session:
        label = session.get_one(Label, (DEFAULT_TOPIC_ID, paper_id))
        set_label(session, paper_id=paper_id, interest=1 - label.interest, source="web")
    second = nightly_retrain(labelled, settings)
    assert first is not None and second is not None and second.activated
    with session_scope(labelled) as session:
        assert rollback_model(session).id == first.version_id
    # The reader rolled back: no new labels, so the next nights leave the choice alone.
    assert nightly_retrain(labelled, settings) is None
    assert _active_id(labelled) == first.version_id
    with labelled() as session:
        runs = session.scalar(select(func.count(RetrainRun.id)))
    assert nightly_retrain(labelled, settings) is None
    with labelled() as session:
        assert session.scalar(select(func.count(RetrainRun.id))) == runs


def test_without_recipes_a_change_of_method_needs_labels_the_active_model_never_saw(
    labelled, settings, tiny_model_dir
):
    first = retrain(labelled, settings)
    assert first.activated
    switched = retrain(labelled, settings, method="tfidf")  # same method: replaces
    assert switched.activated
    # Another method, and every label is one the active model was refit on: refused, and says
    # how to switch anyway.
    from app.jobs.retrain import _gate

    (Path(_path_of(labelled, switched.version_id)) / TRAIN_CONFIG_FILE).unlink()
    activate, reason, gate = _gate(
        frame=load_labelled_csv(LABELS_CSV),
        candidate_dir=Path(_path_of(labelled, switched.version_id)),
        candidate_method="embed",
        active_dir=_path_of(labelled, switched.version_id),
        active_method="tfidf",
        settings=settings,
        tolerance=0.0,
    )
    assert not activate and "--force" in reason and gate["unseen_rows"] == 0


def test_a_deleted_active_model_is_replaced_by_the_retrain(labelled, settings):
    first = retrain(labelled, settings)
    shutil.rmtree(_path_of(labelled, first.version_id))
    second = retrain(labelled, settings)
    assert second.version_id != first.version_id  # a new version, even in the same second
    assert second.activated and "cannot be loaded" in second.reason
    assert _active_id(labelled) == second.version_id


def _path_of(sessions, version_id):
    from app.store.schema import ModelVersion

    with sessions() as session:
        return session.get_one(ModelVersion, version_id).path


def test_a_different_recipe_is_compared_with_the_active_one_fit_on_the_same_labels(
    labelled, settings
):
    first = retrain(labelled, settings)
    chars = settings.model_copy(update={"retrain_tfidf_char_ngrams": True})
    second = retrain(labelled, chars, tolerance=1.0)
    gate = second.gate
    assert gate["kind"] == "head to head" and gate["on"] == "the same test split"
    assert gate["rows"] == 60 and gate["positives"] >= 5
    assert 0 < gate["new_average_precision"] <= 1 and 0 < gate["active_average_precision"] <= 1
    assert second.activated and "both fit on the same 300 labels" in second.reason
    assert second.active_version_id == first.version_id
    # The rival fit leaves nothing behind in the model directory.
    assert not list(settings.resolved_model_dir.glob(".gate-*"))


@pytest.mark.parametrize("breakage", ["constant", "collapsed"])
def test_a_same_recipe_refit_that_is_broken_is_not_activated(labelled, settings, breakage):
    from app.jobs.retrain import _gate

    first = retrain(labelled, settings)
    second = retrain(labelled, settings)
    candidate = Path(_path_of(labelled, second.version_id))
    if breakage == "constant":
        rows = pd.read_csv(candidate / ROWS_FILE)
        rows["score"] = 0.3
        rows.to_csv(candidate / ROWS_FILE, index=False)
    else:
        meta = ModelMeta.load(candidate)
        meta.metrics["test"]["average_precision"] = 0.01
        meta.save(candidate)
    activate, reason, gate = _gate(
        frame=load_labelled_csv(LABELS_CSV),
        candidate_dir=candidate,
        candidate_method="tfidf",
        active_dir=_path_of(labelled, first.version_id),
        active_method="tfidf",
        settings=settings,
        tolerance=0.0,
    )
    assert not activate and gate["kind"] == "same recipe" and reason.startswith("kept")
    assert (
        gate["broken"]
        == {"constant": "constant scores", "collapsed": "average precision collapsed"}[breakage]
    )


def test_the_retrain_recipe_fixed_c_and_second_stage_follow_the_settings(labelled, settings):
    """ARXIV_RECO_RETRAIN_C: no choice on the split's validation labels (bench/recipes.py)."""
    outcome = retrain(labelled, settings.model_copy(update={"retrain_c": 2.5}))
    meta = ModelMeta.load(Path(_path_of(labelled, outcome.version_id)))
    hyperparameters = meta.info["hyperparameters"]
    assert hyperparameters["C"] == 2.5 and hyperparameters["c_grid"] == [2.5]
    # ARXIV_RECO_RETRAIN_SECOND_STAGE (on by default): the replay's winner, training.stack.
    assert hyperparameters["second_stage"]["folds"] == 5
    # 0: chosen on the split's validation labels from the grid, as before.
    chosen = retrain(labelled, settings.model_copy(update={"retrain_c": 0}))
    grid = ModelMeta.load(Path(_path_of(labelled, chosen.version_id))).info["hyperparameters"]
    assert len(grid["c_grid"]) > 1 and grid["C"] in grid["c_grid"]
    plain = retrain(labelled, settings.model_copy(update={"retrain_second_stage": False}))
    plain_meta = ModelMeta.load(Path(_path_of(labelled, plain.version_id)))
    assert plain_meta.info["hyperparameters"]["second_stage"] is None


def test_the_nightly_part_retrains_each_topic_and_one_failure_stops_none(
    labelled, settings, holder, standin, monkeypatch
):
    """Three topics whose labels changed: each retrains in the reader's order; the one whose
    retrain fails is recorded as failed, and the others get and serve their models."""
    from app.jobs import retrain as retrain_module
    from app.jobs.rescore import after_ingestion
    from app.store.topics import create_topic

    with session_scope(labelled) as session:
        ids = session.scalars(select(Label.paper_id).order_by(Label.paper_id)).all()
        topics = {name: create_topic(session, name).id for name in ("broken", "third")}
        for topic_id in topics.values():
            for n, paper_id in enumerate(ids[:40]):
                set_label(
                    session,
                    paper_id=paper_id,
                    interest=int(n % 4 == 0),
                    source="web",
                    topic_id=topic_id,
                )
    real = retrain_module._retrain

    def failing(*args, **kwargs):
        if kwargs.get("topic_id") == topics["broken"]:
            raise RuntimeError("this topic's model cannot be fit")
        return real(*args, **kwargs)

    monkeypatch.setattr(retrain_module, "_retrain", failing)
    outcome = after_ingestion(labelled, settings, holder)
    assert outcome is not None and outcome.activated  # the default topic's
    with labelled() as session:
        for name, topic_id in (("default", DEFAULT_TOPIC_ID), ("third", topics["third"])):
            run = last_retrain(session, topic_id=topic_id)
            assert (name, run.status, run.activated) == (name, "success", True)
            version = active_model(session, topic_id=topic_id)
            assert version is not None and version.topic_id == topic_id
        broken = last_retrain(session, topic_id=topics["broken"])
        assert broken.status == "failed" and "cannot be fit" in broken.reason
        assert active_model(session, topic_id=topics["broken"]) is None
        third = active_model(session, topic_id=topics["third"])
        scored = session.scalar(
            select(func.count(Score.id)).where(Score.model_version_id == third.id)
        )
        assert scored > 0
    # A later ingestion by hand (no nightly part) scores the new day for every topic's model.
    day = dt.date(2025, 3, 20)
    reports = DailyJob(labelled, settings, holder).run_range(day, day, trigger="manual")
    assert [r.status for r in reports] == ["success"]
    with labelled() as session:
        on_day = select(Paper.id).where(Paper.submitted_on == day)
        assert session.scalar(select(func.count()).select_from(on_day.subquery())) > 0
        unscored = on_day.where(
            ~select(Score.id)
            .where(Score.paper_id == Paper.id, Score.model_version_id == third.id)
            .exists()
        )
        assert session.scalars(unscored).all() == []
