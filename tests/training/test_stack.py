"""training.stack: the second stage a tfidf model may carry, fit and served."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tests.factories import SIGNAL_AUTHOR, with_metadata
from training.inference.artifact import (
    SECOND_STAGE_FILE,
    TFIDF_PIPELINE_FILE,
    ModelMeta,
    PaperInput,
    metadata_frame,
)
from training.inference.layout import paper_inputs
from training.inference.predictor import load_predictor, score_papers_raw
from training.inference.second_stage import SIGNALS
from training.stack import fit_stage, out_of_fold_scores
from training.train import train


def _paper(*authors: str, comment: str | None = None) -> PaperInput:
    return PaperInput(
        title="A paper",
        abstract="We study a method.",
        authors=authors,
        categories=("cs.CL",),
        comment=comment,
    )


def test_the_authors_record_counts_other_papers_never_the_paper_itself():
    # Ada wrote two ✓ papers and Bob one ✕; everything else is alike.
    papers = [_paper("Ada"), _paper("Ada"), _paper("Bob"), _paper("Cy"), _paper("Cy")]
    labels = np.array([1, 1, 0, 0, 1])
    stage = fit_stage(papers, labels, np.full(len(papers), 0.3))
    assert stage.authors["ada"] == (2, 0) and stage.authors["bob"] == (0, 1)
    new = [_paper("Ada"), _paper("Dee")]
    by_ada, by_stranger = stage.predict(new, np.array([0.3, 0.3]))
    assert by_ada > by_stranger
    assert set(stage.weights()) == set(SIGNALS)


def test_out_of_fold_scores_never_score_a_row_with_a_model_that_saw_it():
    seen: list[tuple[set[int], set[int]]] = []

    def fit_and_score(fit_rows, score_rows):
        seen.append((set(fit_rows), set(score_rows)))
        return np.full(len(score_rows), len(seen), dtype=float)

    scores = out_of_fold_scores(23, fit_and_score)
    assert len(seen) == 5
    assert set().union(*(held for _, held in seen)) == set(range(23))
    assert all(not (fit & held) for fit, held in seen)
    assert sorted(set(scores)) == [1, 2, 3, 4, 5]


def test_a_tfidf_model_with_a_second_stage_is_written_served_and_described(
    make_config, sample_frame, tmp_path: Path
):
    frame = with_metadata(sample_frame)
    # An author on every paper (the factory's "Common Author") is no reader's case: the record
    # of authors who write a few papers each is what the stage reads.
    frame["authors"] = frame["authors"].str.replace("Common Author; ", "", regex=False)
    plain = train(make_config(output=str(tmp_path / "plain")), frame=frame)
    staged = train(make_config(output=str(tmp_path / "staged"), second_stage=True), frame=frame)
    assert not (plain.path / SECOND_STAGE_FILE).exists()
    assert {TFIDF_PIPELINE_FILE, SECOND_STAGE_FILE} <= {p.name for p in staged.path.iterdir()}
    info = ModelMeta.load(staged.path).info
    assert info["hyperparameters"]["second_stage"]["signals"] == list(SIGNALS)
    assert set(info["fit"]["second_stage_weights"]) == set(SIGNALS)
    predictor = load_predictor(staged.path)
    assert predictor.second_stage is not None
    papers = paper_inputs(frame.head(20))
    text_only = predictor.predict_frame(
        metadata_frame(
            papers, text_fields=predictor.meta.text_fields, meta_fields=predictor.meta.meta_fields
        )
    )
    served = score_papers_raw(predictor, papers)
    assert served.shape == (20,) and not np.allclose(served, text_only)
    # An author of many ✓ papers lifts the same paper.
    paper = papers[0]
    lone = dataclasses.replace(paper, authors=("Nobody Known",))
    known = dataclasses.replace(paper, authors=(SIGNAL_AUTHOR,))
    by_stranger, by_signal = score_papers_raw(predictor, [lone, known])
    assert by_signal > by_stranger


def test_no_second_stage_when_one_date_fold_holds_every_interesting_paper(sample_frame):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from training.config import TrainConfig
    from training.methods.tfidf import fit_second_stage

    frame = sample_frame.sort_values("submission_date", kind="stable").reset_index(drop=True)
    frame["interest"] = [1 if i < len(frame) // 6 else 0 for i in range(len(frame))]
    x = TfidfVectorizer().fit_transform(frame["abstract"])
    config = TrainConfig(output="-", method="tfidf", second_stage=True)
    assert fit_second_stage(config, x, frame, 1.0) is None
    frame["interest"] = [i % 5 == 0 for i in range(len(frame))]
    assert fit_second_stage(config, x, frame.astype({"interest": int}), 1.0) is not None
