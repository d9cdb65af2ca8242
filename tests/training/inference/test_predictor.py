from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.factories import SIGNAL_AUTHOR, SIGNAL_COMMENT
from training.inference.artifact import (
    INT8_CHECK,
    INT8_SCHEME,
    META_FILE,
    ArtifactError,
    ModelMeta,
    PaperInput,
    atomic_directory,
    compose_text,
)
from training.inference.device import pick_device
from training.inference.predictor import (
    load_predictor,
    score_papers,
    score_papers_raw,
)

PAPERS = [
    ("Graph agents", "We study agents that plan over graphs with language models."),
    ("", "A short abstract."),
    ("Vision", "Diffusion models for images " * 40),
]


def test_batched_scores_equal_one_by_one_scores_in_input_order(tiny_model_dir):
    predictor = load_predictor(tiny_model_dir, device="cpu", batch_size=2)
    batched = score_papers(predictor, PAPERS)
    single = [score_papers(predictor, [paper])[0] for paper in PAPERS]
    assert batched.shape == (3,) and np.allclose(batched, single, atol=1e-5)
    assert predictor.scoring_path == "fp32"
    assert score_papers(predictor, []).shape == (0,)


def test_int8_is_used_when_the_model_passed_its_check(tiny_model_dir, tmp_path):
    directory = tmp_path / "checked"
    shutil.copytree(tiny_model_dir, directory)
    meta = ModelMeta.load(directory)
    meta.info[INT8_CHECK] = {"passed": True, "ap_change": 0.001, "scheme": INT8_SCHEME}
    meta.save(directory)
    fp32 = load_predictor(directory, device="cpu", precision="fp32")
    auto = load_predictor(directory, device="cpu")
    assert (fp32.scoring_path, auto.scoring_path) == ("fp32", "int8-dynamic")
    assert np.allclose(score_papers(fp32, PAPERS), score_papers(auto, PAPERS), atol=0.05)
    unchecked = load_predictor(tiny_model_dir, device="cpu")
    assert unchecked.scoring_path == "fp32"
    # A check made with another quantisation scheme (per-matrix scales) vouches for nothing.
    meta.info[INT8_CHECK] = {"passed": True, "ap_change": 0.001}
    meta.save(directory)
    assert load_predictor(directory, device="cpu").scoring_path == "fp32"


def test_text_is_built_the_same_way_everywhere():
    assert compose_text(" A  title ", "An\nabstract.") == "A title\nAn abstract."
    assert compose_text("T", "A", ["abstract"]) == "A"
    assert compose_text(None, "A") == "A"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "magic"}, "unknown method 'magic'"),
        ({"threshold": 1.5}, "threshold 1.5 is not in"),
        ({"text_fields": ["body"]}, "text_fields"),
        ({"meta_fields": ["doi"]}, r"meta_fields \['doi'\] must be distinct names from"),
        ({"meta_fields": ["authors"]}, "only tfidf models read meta_fields, but this finetune"),
        ({"surprise": 1}, "cannot read"),
    ],
)
def test_a_broken_model_directory_is_refused_with_a_reason(
    tiny_model_dir, tmp_path, change, message
):
    directory = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, directory)
    raw = json.loads((directory / META_FILE).read_text())
    raw.update(change)
    (directory / META_FILE).write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match=message):
        load_predictor(directory, device="cpu")


def test_a_model_saved_before_meta_fields_still_loads(tiny_model_dir, tmp_path):
    directory = tmp_path / "older"
    shutil.copytree(tiny_model_dir, directory)
    raw = json.loads((directory / META_FILE).read_text())
    del raw["meta_fields"]
    (directory / META_FILE).write_text(json.dumps(raw))
    predictor = load_predictor(directory, device="cpu")
    assert predictor.meta.meta_fields == []
    assert score_papers(predictor, PAPERS).shape == (3,)


def test_a_metadata_model_reads_authors_and_comment_when_given(tfidf_meta_model_dir):
    predictor = load_predictor(tfidf_meta_model_dir)
    assert predictor.meta.meta_fields == ["authors", "comment"]
    title, abstract = PAPERS[0]
    plain = PaperInput(title=title, abstract=abstract, authors=("Someone Else",))
    signal = PaperInput(
        title=title, abstract=abstract, authors=(SIGNAL_AUTHOR,), comment=SIGNAL_COMMENT
    )
    scores = score_papers(predictor, [plain, signal, (title, abstract)])
    assert scores[1] > scores[0] + 0.05
    # A pair is a paper without metadata, and so are bare texts.
    assert scores[2] == pytest.approx(scores[0], abs=1e-6)
    text = compose_text(title, abstract)
    raw = score_papers_raw(predictor, [(title, abstract)])[0]
    assert predictor.predict_proba([text])[0] == pytest.approx(raw, abs=1e-6)
    assert score_papers(predictor, []).shape == (0,)


def test_a_paper_is_a_paper_input_or_a_pair():
    assert PaperInput.of(("T", "A")) == PaperInput(title="T", abstract="A")
    with pytest.raises(TypeError, match=r"expected a PaperInput or a \(title, abstract\) pair"):
        PaperInput.of(("T", "A", "extra"))  # type: ignore[arg-type]


def test_a_directory_without_metadata_is_not_a_model(tmp_path):
    with pytest.raises(ArtifactError, match="is not a model directory"):
        load_predictor(tmp_path)


def test_an_unavailable_device_is_named():
    with pytest.raises(ValueError, match="'cuda' was requested"):
        pick_device("cuda")
    assert pick_device("cpu").type == "cpu"


def test_an_interrupted_write_leaves_the_old_model_in_place(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as work:
        (work / "weights").write_text("half")
        raise RuntimeError("killed")
    assert (target / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    with atomic_directory(target, overwrite=True) as work:
        (work / "weights").write_text("new")
    assert (target / "weights").read_text() == "new"
    with pytest.raises(FileExistsError, match="already exists"), atomic_directory(target):
        pass
