from __future__ import annotations

import joblib
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from app.cli import main
from app.core.db import session_scope
from app.labels import import_labels_csv
from app.ml.registry import active_model, list_models, rollback_model
from app.retrain import retrain
from tests.conftest import LABELS_CSV
from tests.factories import activate_model_dir, with_metadata, write_labels_csv
from training.artifact import TFIDF_PIPELINE_FILE, ModelMeta, compose_text
from training.layout import data_hash, load_labelled_csv


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
    assert second.active_average_precision == pytest.approx(first.new_average_precision)
    assert second.activated and "not worse" in second.reason
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
    # The gate scores the same test rows with their metadata: equal models, equal AP.
    again = retrain(sessions, settings)
    assert again.active_average_precision == pytest.approx(outcome.new_average_precision)


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
    joblib.dump(oracle, directory / TFIDF_PIPELINE_FILE)
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


def test_retrain_without_labels_is_refused_with_a_message(sessions, settings, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    with pytest.raises(SystemExit, match="retrain refused: .*no labelled rows"):
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
