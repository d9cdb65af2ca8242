"""A broken model never takes the service down: truncated, zeroed or foreign model files."""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
from pathlib import Path

import pytest

from app.core.db import session_scope
from app.ingest.service import ingest_day
from app.ml.registry import register_model
from tests.factories import activate_model_dir
from training.artifact import TFIDF_PIPELINE_FILE, ArtifactError, ModelMeta
from training.predictor import load_predictor


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
