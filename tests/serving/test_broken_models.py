"""A broken model never takes the service down: truncated, zeroed or foreign model files."""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
from pathlib import Path

import pytest

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.jobs.scheduler import _ingest_range_in_child
from app.serving.registry import register_model
from tests.factories import activate_model_dir
from training.inference.artifact import TFIDF_PIPELINE_FILE, ArtifactError, ModelMeta
from training.inference.predictor import load_predictor


def _break(directory: Path, how: str) -> None:
    pipeline = directory / TFIDF_PIPELINE_FILE
    data = pipeline.read_bytes()
    if how == "truncated":
        pipeline.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":
        pipeline.write_bytes(b"\0" * len(data))
    else:  # a pickle of the wrong object
        pipeline.write_bytes(pickle.dumps({"not": "a pipeline"}))


@pytest.mark.parametrize("how", ["truncated", "zeroed", "foreign"])
def test_a_broken_model_file_is_an_artifact_error(tfidf_meta_model_dir, tmp_path, how):
    broken = tmp_path / "broken"
    shutil.copytree(tfidf_meta_model_dir, broken)
    _break(broken, how)
    with pytest.raises(ArtifactError, match=r"cannot load the tfidf model in .*broken"):
        load_predictor(broken)


@pytest.mark.parametrize("how", ["truncated", "foreign"])
def test_activation_refuses_a_broken_model_and_the_served_one_stays(
    client, sessions, settings, holder, tfidf_meta_model_dir, tmp_path, how
):
    good = activate_model_dir(sessions, tfidf_meta_model_dir, name="good")
    ingest_day(sessions, dt.date(2025, 3, 19), settings, model=holder.get)
    broken = tmp_path / "broken"
    shutil.copytree(tfidf_meta_model_dir, broken)
    _break(broken, how)
    with session_scope(sessions) as session:
        bad = register_model(
            session, path=broken, meta=ModelMeta.load(broken), name="bad", activate=False
        ).id
    refused = client.post(f"/models/{bad}/activate")
    assert refused.status_code == 409 and "cannot be served" in refused.json()["detail"]
    assert client.get("/recommendations").json()["active_model_id"] == good

    # Activated behind the service's back (another process, a file broken later): the holder
    # keeps serving the model it has, and says why.
    client.get("/recommendations")
    with session_scope(sessions) as session:
        register_model(session, path=broken, meta=ModelMeta.load(broken), name="bad", activate=True)
    listing = client.get("/recommendations")
    assert listing.status_code == 200 and listing.json()["active_model_id"] == good
    assert client.post("/score", json={"abstract": "Transformers."}).status_code == 200
    status = client.get("/status").json()
    assert f"still serving version {good}" in status["model"]["load_error"]
    health = client.get("/health").json()
    assert (health["status"], health["model"]) == ("degraded", "broken")
    assert any(f"still serving version {good}" in p for p in health["problems"])
    assert f"still serving version {good}" in client.get("/").text


def test_a_model_file_corrupted_while_served_is_broken_and_fails_the_next_ingestion(
    client, sessions, settings, tfidf_meta_model_dir, tmp_path
):
    """The attack of issue 17: the served model's file is overwritten while the service runs.
    /health says ``broken`` at once, and the job's next ingestion (a fresh process that must
    load the file) fails and says why instead of storing the day unscored as a success."""
    served = tmp_path / "served"
    shutil.copytree(tfidf_meta_model_dir, served)
    version = activate_model_dir(sessions, served, name="served")
    first, second = dt.date(2025, 3, 19), dt.date(2025, 3, 20)
    (report,) = _ingest_range_in_child(settings, first, first, trigger="schedule")
    assert (report.status, report.scored > 0) == ("success", True)
    assert client.get("/health").json()["model"] == "ok"

    _break(served, "truncated")
    health = client.get("/health").json()
    assert (health["status"], health["model"]) == ("degraded", "broken")
    (problem,) = health["problems"]
    assert f"the files of model version {version}" in problem and "no longer load" in problem
    # The copy in memory goes on serving meanwhile.
    assert client.get("/recommendations", params={"date": "2025-03-19"}).status_code == 200

    (report,) = _ingest_range_in_child(settings, second, second, trigger="schedule")
    assert report.status == "failed" and report.scored == 0
    assert "stored but not scored" in report.error
    problems = client.get("/health").json()["problems"]
    assert any(p.startswith("the last ingestion of 2025-03-20 failed") for p in problems)

    # Mended files are loaded again at once; the next run scores the day.
    shutil.copy2(tfidf_meta_model_dir / TFIDF_PIPELINE_FILE, served / TFIDF_PIPELINE_FILE)
    assert client.get("/health").json()["model"] == "ok"
    (report,) = _ingest_range_in_child(settings, second, second, trigger="schedule")
    assert (report.status, report.scored > 0) == ("success", True)
    assert client.get("/health").json()["problems"] == []
