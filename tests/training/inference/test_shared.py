"""Several tfidf models scoring one batch together (training.inference.shared): each model's
probabilities are exactly its own, and a text is cut into terms once per analyzer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.conftest import LABELS_CSV
from tests.factories import with_metadata
from training import early
from training.config import TrainConfig
from training.inference import shared
from training.inference.layout import load_labelled_csv, paper_inputs
from training.inference.predictor import load_predictor, score_papers, score_together
from training.train import train


@pytest.fixture(scope="module")
def frame():
    return with_metadata(load_labelled_csv(LABELS_CSV))


@pytest.fixture(scope="module")
def predictors(frame, tmp_path_factory):
    """Five tfidf recipes a reader's topics may hold: the text alone, with metadata, with
    character n-grams, with a second stage, and an early model from a few ✓ and the pool."""
    folder = tmp_path_factory.mktemp("shared")
    recipes = {
        "text": {"meta_fields": ["none"]},
        "metadata": {},
        "chars": {"tfidf_char_ngrams": True},
        "second stage": {"second_stage": True},
    }
    made = {}
    for index, (name, options) in enumerate(recipes.items()):
        config = TrainConfig(
            output=str(folder / f"m{index}"),
            method="tfidf",
            c_grid=[1.0],
            progress=False,
            seed=index,
            **options,
        )
        part = frame.iloc[index % 2 :: 2].reset_index(drop=True)
        made[name] = load_predictor(train(config, frame=part, source=name).path)
    labels = frame[frame["interest"] == 1].head(4)
    pool = frame[frame["interest"] == 0].reset_index(drop=True)
    config = TrainConfig(output=str(folder / "early"), method="tfidf", progress=False)
    made["early"] = load_predictor(early.train_early(config, labels, pool, source="early").path)
    return made


def test_together_each_model_scores_exactly_as_alone(predictors, frame):
    papers = paper_inputs(frame.iloc[::3])
    together = score_together(list(predictors.values()), papers)
    for (name, predictor), scores in zip(predictors.items(), together, strict=True):
        alone = score_papers(predictor, papers)
        np.testing.assert_array_equal(scores, alone, err_msg=name)
    assert score_together(list(predictors.values()), []) == [
        pytest.approx(np.zeros(0)) for _ in predictors
    ]


def test_each_text_is_cut_once_per_analyzer(predictors, frame, monkeypatch):
    cut = []
    real = shared._Terms.of

    def counted(vectorizer, docs):
        cut.append(shared.analyzer_key(vectorizer))
        return real(vectorizer, docs)

    monkeypatch.setattr(shared._Terms, "of", counted)
    papers = paper_inputs(frame.head(40))
    models = [predictors["text"], predictors["second stage"], predictors["text"]]
    for model in models:
        score_together([model], papers)
    alone = len(cut)
    cut.clear()
    score_together(models, papers)
    # The text's word analyzer is the three's (two of them one model); the second stage's model
    # also reads metadata, each field with an analyzer of its own, each run once.
    assert len(cut) == len(set(cut)) == alone - 2


def test_a_pipeline_of_another_shape_is_scored_as_it_is(frame):
    texts = ["a b", "c d", "a c"]
    pipeline = Pipeline(
        [
            ("lengths", FunctionTransformer(lambda xs: np.array([[len(x)] for x in xs]))),
            ("logreg", LogisticRegression().fit(np.array([[1], [9]]), [0, 1])),
        ]
    )
    batch = shared.SharedBatch([])
    assert batch.predict(pipeline, texts) == pytest.approx(pipeline.predict_proba(texts)[:, 1])
