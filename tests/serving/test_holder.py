"""The model holder: the database's active version, loaded; in the web processes of `serve
--workers`, a newly activated one loads in the background while the one loaded goes on
serving, then is served at once."""

from __future__ import annotations

import shutil
import threading

from app.serving.holder import ModelHolder
from tests.factories import activate_model_dir


def test_a_new_version_loads_in_the_background_while_the_old_one_serves(
    sessions, tfidf_meta_model_dir, tmp_path, monkeypatch
):
    changes = []
    holder = ModelHolder(
        sessions, device="cpu", batch_size=8, background=True, on_change=changes.append
    )
    first = activate_model_dir(sessions, tfidf_meta_model_dir, name="first")
    assert holder.get().version_id == first  # nothing served yet: loaded at once
    copy = tmp_path / "second"
    shutil.copytree(tfidf_meta_model_dir, copy)
    second = activate_model_dir(sessions, copy, name="second")

    release = threading.Event()
    import app.serving.holder as module

    real = module.load_predictor

    def slow(*args, **kwargs):
        release.wait(10)  # a big model's load
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "load_predictor", slow)
    assert holder.get().version_id == first  # the old one serves while the new one loads
    assert holder.get().version_id == first  # and one load only runs
    release.set()
    holder._loading.join(10)
    assert holder.get().version_id == second
    assert [loaded.version_id for loaded in changes] == [first, second]


def test_a_background_load_that_fails_is_recorded_once_and_scoring_waits_for_the_active(
    sessions, tfidf_meta_model_dir, tmp_path, monkeypatch
):
    holder = ModelHolder(sessions, device="cpu", batch_size=8, background=True)
    first = activate_model_dir(sessions, tfidf_meta_model_dir, name="first")
    assert holder.get().version_id == first
    copy = tmp_path / "second"
    shutil.copytree(tfidf_meta_model_dir, copy)
    second = activate_model_dir(sessions, copy, name="second")

    import app.serving.holder as module

    attempts = []

    def broken(*args, **kwargs):
        attempts.append(1)
        raise RuntimeError("CUDA out of memory")  # not one of the files' errors

    monkeypatch.setattr(module, "load_predictor", broken)
    for _ in range(3):
        assert holder.get().version_id == first
        if holder._loading is not None:
            holder._loading.join(10)
    assert len(attempts) == 1  # recorded, not tried at every request
    assert "cannot load model version" in (holder.last_error or "")
    assert "CUDA out of memory" in holder.last_error

    monkeypatch.undo()
    copy2 = tmp_path / "third"
    shutil.copytree(tfidf_meta_model_dir, copy2)
    third = activate_model_dir(sessions, copy2, name="third")
    # Scoring never uses a version that is not the active one: it waits for the load.
    assert holder.for_scoring().version_id == third
    assert second != third
