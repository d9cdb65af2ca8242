"""The model store (issue 20): with ARXIV_RECO_MODEL_STORE a retrain's model is uploaded and
registered by URL, and every process, on any host, loads it from a copy of its own. Two "hosts"
here are two cache folders and two data directories over one database and one store folder
reached as a ``file://`` URL, through fsspec as any other scheme is."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.core.db import session_scope
from app.jobs.retrain import retrain
from app.serving.holder import ModelHolder
from app.serving.registry import active_model, version_threshold
from app.serving.store import CACHE_ENV, ModelStoreError, local_path, publish
from app.store.labels import import_labels_csv
from app.store.topics import create_topic, delete_topic, remove_model_directories
from tests.conftest import LABELS_CSV
from training.inference.artifact import META_FILE


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "host-a-cache"))
    (tmp_path / "store").mkdir()
    return (tmp_path / "store").as_uri()


def test_a_published_model_is_copied_once_and_whole(store, tfidf_meta_model_dir, tmp_path):
    url = publish(tfidf_meta_model_dir, store)
    assert url == f"{store}/{tfidf_meta_model_dir.name}"
    copy = local_path(url)
    assert copy.parent == tmp_path / "host-a-cache"
    assert sorted(p.name for p in copy.iterdir()) == sorted(
        p.name for p in tfidf_meta_model_dir.iterdir()
    )
    stamp = (copy / META_FILE).stat().st_mtime_ns
    assert local_path(url) == copy and (copy / META_FILE).stat().st_mtime_ns == stamp
    assert local_path(str(tfidf_meta_model_dir)) == tfidf_meta_model_dir  # a directory as is
    with pytest.raises(ModelStoreError, match="holds no model"):
        local_path(f"{store}/never-uploaded")
    assert not list((tmp_path / "host-a-cache").glob(".never-uploaded*"))  # no half copy left


def test_a_retrain_with_a_store_serves_every_host_and_a_deletion_removes_it(
    sessions, settings, store, tmp_path, monkeypatch
):
    settings = settings.model_copy(update={"model_store": store, "retrain_method": "tfidf"})
    with session_scope(sessions) as session:
        topic = create_topic(session, "robots")
        import_labels_csv(session, LABELS_CSV, topic_id=topic.id)
        topic_id = topic.id
    outcome = retrain(sessions, settings, force=True, topic_id=topic_id)
    with sessions() as session:
        version = active_model(session, topic_id=topic_id)
        assert version is not None and version.id == outcome.version_id
        assert version.path == f"{store}/{outcome.name}"
        assert version_threshold(version) == pytest.approx(
            json.loads((Path(store[7:]) / outcome.name / META_FILE).read_text())["threshold"]
        )
    paper = pd.read_csv(LABELS_CSV).iloc[0]
    scored = {}
    for host in ("host-b", "host-c"):  # another machine: its own cache, nothing local
        monkeypatch.setenv("ARXIV_RECO_MODEL_CACHE", str(tmp_path / f"{host}-cache"))
        holder = ModelHolder(sessions, device="cpu", batch_size=8, topic_id=topic_id)
        loaded = holder.get()
        assert loaded is not None and loaded.version_id == outcome.version_id
        scored[host] = loaded.predictor.predict_proba([f"{paper.title}\n{paper.abstract}"])[0]
        assert (tmp_path / f"{host}-cache").is_dir()
    assert scored["host-b"] == scored["host-c"]
    with session_scope(sessions) as session:
        deleted = delete_topic(session, "robots")
    from app.serving.store import remove

    assert remove_model_directories(deleted.model_paths, settings.resolved_model_dir, remove) == 1
    assert not (Path(store[7:]) / outcome.name).exists()


def test_a_store_out_of_reach_keeps_the_model_served_and_says_why(
    sessions, settings, store, tmp_path, monkeypatch, tfidf_meta_model_dir
):
    from app.serving.registry import register_model
    from training.inference.artifact import ModelMeta

    url = publish(tfidf_meta_model_dir, store)
    with session_scope(sessions) as session:
        register_model(session, path=url, meta=ModelMeta.load(tfidf_meta_model_dir), activate=True)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "fresh-cache"))  # a host with no copy yet
    for file in Path(store[7:]).rglob("*"):  # the store is gone
        if file.is_file():
            file.unlink()
    holder = ModelHolder(sessions, device="cpu", batch_size=8)
    assert holder.get() is None
    assert "holds no model" in (holder.last_error or "")
