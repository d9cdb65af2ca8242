"""Which recipe should the nightly retrain serve? Candidates screened night after night.

    .venv/bin/python -m bench.recipes [--data META_CSV] [--days 16] [--json FILE]
        [--recipes grid,C=1,stack,ensemble,...] [--no-embed]

The nightly loop's protocol without the service around it (``bench.prequential`` then checks
the winner through the service's own code): for each of the CSV's last ``--days`` listing days,
every label of the days before it is the reader's; each recipe fits on them and scores the day;
the day's labels are then revealed. Every recipe sees the same nights, and the figures are the
ones ``bench.prequential`` reports: AP over all replayed papers, the mean of each day's AP, and
the mean precision of each day's top 10.

Recipes (all on the served features: TF-IDF of the text, authors and arXiv comment blocks):

- ``grid``: what the service does today: a 60/20/20 date split of the night's labels, C chosen
  on validation AP from the grid, then refit on every label with that C.
- ``C=x``: a fixed C, fit on every label: no split, no choice.
- ``stack``: the served second stage (``training.stack``): the text model's out-of-fold score
  (5 date-ordered folds), the authors' record (how many of the reader's other ✓ and ✕ papers
  share an author), a link to code (GitHub, GitLab, Hugging Face) or a project page, the
  primary category's record and a few counts in a logistic regression fit on the night's labels.
- ``embed``: a logistic regression on all-MiniLM-L6-v2 mean-pooled embeddings of title and
  abstract (computed once for every paper, cached in bench/out); ``ensemble``: the mean of its
  probability and ``C=1``'s (both class-balanced).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from training.config import TrainConfig
from training.inference.artifact import TEXT_COLUMN, metadata_frame
from training.inference.layout import DataError, load_labelled_csv, paper_inputs
from training.methods.linear import choose_c
from training.methods.tfidf import SOLVER, fit_second_stage, tfidf_features, usable_meta_fields
from training.split import split_by_date

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "bench/out/interest_meta.csv"
TOP_K = 10

logger = logging.getLogger("bench.recipes")

Recipe = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


def served_config() -> TrainConfig:
    """The service's tfidf retrain configuration (``app.jobs.retrain`` builds it from these)."""
    return TrainConfig(output="-", method="tfidf", progress=False)


def featurize(
    config: TrainConfig, train: pd.DataFrame
) -> tuple[Any, Callable[[pd.DataFrame], Any]]:
    """The served features fit on ``train`` (metadata blocks that ``train`` leaves empty are left
    out, as ``fit_tfidf`` does), and the function that turns any rows into them."""
    wanted = list(config.meta_fields)

    def frame_of(rows: pd.DataFrame, fields: list[str]) -> Any:
        return metadata_frame(
            paper_inputs(rows), text_fields=config.text_fields, meta_fields=fields
        )

    fields, _ = usable_meta_fields(config, frame_of(train, wanted), wanted)
    features = clone(tfidf_features(config, fields))

    def to_input(rows: pd.DataFrame) -> Any:
        x = frame_of(rows, fields)
        return x if fields else x[TEXT_COLUMN]

    return features.fit_transform(to_input(train)), lambda rows: features.transform(to_input(rows))


def logistic(config: TrainConfig, c: float) -> LogisticRegression:
    return LogisticRegression(
        C=c, class_weight="balanced", solver=SOLVER, max_iter=5000, random_state=config.seed
    )


def fit_text(config: TrainConfig, train: pd.DataFrame, c: float) -> Callable[[pd.DataFrame], Any]:
    train_x, transform = featurize(config, train)
    model = logistic(config, c).fit(train_x, train["interest"].to_numpy())
    return lambda frame: model.predict_proba(transform(frame))[:, 1]


def fixed_c(c: float) -> Recipe:
    def recipe(past: pd.DataFrame, day: pd.DataFrame) -> np.ndarray:
        return np.asarray(fit_text(served_config(), past, c)(day))

    return recipe


def grid(past: pd.DataFrame, day: pd.DataFrame) -> np.ndarray:
    config = served_config()
    try:
        split = split_by_date(
            past, val_fraction=config.val_fraction, test_fraction=config.test_fraction
        )
    except DataError:
        return fixed_c(1.0)(past, day)
    train_x, transform = featurize(config, split.train)
    _, chosen, _ = choose_c(
        config.c_grid,
        lambda c: logistic(config, c),
        train_x,
        split.train["interest"].to_numpy(),
        transform(split.validation),
        split.validation["interest"].to_numpy(),
    )
    return fixed_c(chosen)(past, day)


# ---- the second stage ----------------------------------------------------------------------


def stack(past: pd.DataFrame, day: pd.DataFrame, c: float = 1.0) -> np.ndarray:
    """The served second stage (``training.methods.tfidf.fit_second_stage``, ``training.stack``)
    over a C=``c`` text model fit on every past label; the text model alone where it declines."""
    config = served_config()
    ordered = past.sort_values("submission_date", kind="stable").reset_index(drop=True)
    train_x, transform = featurize(config, ordered)
    text = logistic(config, c).fit(train_x, ordered["interest"].to_numpy())
    text_scores = text.predict_proba(transform(day))[:, 1]
    stage = fit_second_stage(config, train_x, ordered, c)
    if stage is None:
        return np.asarray(text_scores)
    return np.asarray(stage.predict(paper_inputs(day), text_scores))


# ---- embeddings -----------------------------------------------------------------------------


def embeddings(frame: pd.DataFrame, cache: Path) -> dict[str, np.ndarray]:
    """all-MiniLM-L6-v2 embeddings of every paper's title and abstract, by paper id (cached)."""
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        ids = [str(i) for i in stored["ids"]]
        if set(ids) >= set(frame["paper_id"]):
            return dict(zip(ids, stored["vectors"], strict=True))
    import torch
    from transformers import AutoModel, AutoTokenizer

    from bench._shared import minilm_dir
    from training.inference.artifact import compose_text
    from training.inference.encoder import embed_texts

    directory = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    encoder = AutoModel.from_pretrained(directory).eval()
    texts = [compose_text(t, a) for t, a in zip(frame["title"], frame["abstract"], strict=True)]
    started = time.perf_counter()
    vectors = embed_texts(
        encoder,
        tokenizer,
        texts,
        max_length=256,
        batch_size=32,
        device=torch.device("cpu"),
        progress=True,
    )
    logger.info("embedded %d papers in %.0f s", len(texts), time.perf_counter() - started)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, ids=np.array(frame["paper_id"].tolist()), vectors=vectors)
    return dict(zip(frame["paper_id"], vectors, strict=True))


def embed_recipe(vectors: dict[str, np.ndarray], c: float = 1.0) -> Recipe:
    def recipe(past: pd.DataFrame, day: pd.DataFrame) -> np.ndarray:
        x = np.stack([vectors[i] for i in past["paper_id"]])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(
            x, past["interest"].to_numpy()
        )
        return np.asarray(
            model.predict_proba(np.stack([vectors[i] for i in day["paper_id"]]))[:, 1]
        )

    return recipe


def ensemble(vectors: dict[str, np.ndarray], c: float = 1.0) -> Recipe:
    embed, text = embed_recipe(vectors), fixed_c(c)

    def recipe(past: pd.DataFrame, day: pd.DataFrame) -> np.ndarray:
        return (embed(past, day) + text(past, day)) / 2

    return recipe


# ---- the replay -----------------------------------------------------------------------------


def precision_at_k(labels: np.ndarray, scores: np.ndarray, k: int = TOP_K) -> float:
    top = np.argsort(-scores, kind="stable")[:k]
    return float(labels[top].mean())


def replay(frame: pd.DataFrame, days: list[pd.Timestamp], recipe: Recipe) -> dict[str, Any]:
    labels, scores, daily_ap, daily_p = [], [], [], []
    started = time.perf_counter()
    for day in days:
        past = frame[frame["submission_date"] < day].reset_index(drop=True)
        today = frame[frame["submission_date"] == day].reset_index(drop=True)
        probability = recipe(past, today)
        truth = today["interest"].to_numpy()
        labels.append(truth)
        scores.append(probability)
        if truth.sum():
            daily_ap.append(float(average_precision_score(truth, probability)))
        daily_p.append(precision_at_k(truth, probability))
    every_label, every_score = np.concatenate(labels), np.concatenate(scores)
    return {
        "average_precision": float(average_precision_score(every_label, every_score)),
        "mean_daily_ap": float(np.mean(daily_ap)),
        "precision_at_10": float(np.mean(daily_p)),
        "papers": len(every_label),
        "positives": int(every_label.sum()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="labelled CSV with metadata"
    )
    parser.add_argument("--days", type=int, default=16, help="replay the CSV's last N days")
    parser.add_argument(
        "--recipes",
        default="grid,C=0.3,C=1,C=3,C=10,stack,embed,ensemble",
        help="comma-separated: grid, C=x, stack, embed, ensemble",
    )
    parser.add_argument("--json", type=Path, help="write the settings and figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    if not args.data.is_file():
        raise SystemExit(
            f"{args.data} not found: make it with python -c 'from bench.training import enrich; "
            "...' (see bench/README.md, recipes.py)"
        )
    frame = load_labelled_csv(args.data)
    for column in ("authors", "comment"):
        frame[column] = frame[column].fillna("") if column in frame else ""
    days = sorted(frame["submission_date"].unique())[-args.days :]
    names = [name.strip() for name in args.recipes.split(",") if name.strip()]
    vectors: dict[str, np.ndarray] | None = None
    results: dict[str, Any] = {}
    print(
        f"{len(days)} nights, {days[0].date()} to {days[-1].date()}; labels before the first: "
        f"{int((frame['submission_date'] < days[0]).sum())}",
        flush=True,
    )
    print("| recipe | AP | mean daily AP | P@10 | seconds |\n|---|---|---|---|---|", flush=True)
    for name in names:
        if name in ("embed", "ensemble") and vectors is None:
            vectors = embeddings(frame, ROOT / "bench/out/minilm_embeddings.npz")
        recipe: Recipe
        if name == "grid":
            recipe = grid
        elif name.startswith("C="):
            recipe = fixed_c(float(name[2:]))
        elif name == "stack":
            recipe = stack
        elif name == "embed":
            recipe = embed_recipe(vectors)  # type: ignore[arg-type]
        elif name == "ensemble":
            recipe = ensemble(vectors)  # type: ignore[arg-type]
        else:
            raise SystemExit(f"unknown recipe {name!r}: grid, C=x, stack, embed or ensemble")
        result = replay(frame, days, recipe)
        results[name] = result
        print(
            f"| {name} | {result['average_precision']:.3f} | {result['mean_daily_ap']:.3f} | "
            f"{result['precision_at_10']:.3f} | {result['seconds']:.0f} |",
            flush=True,
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "data": str(args.data),
                    "days": [str(d.date()) for d in days],
                    "config": {k: v for k, v in vars(served_config()).items() if k != "output"},
                    "results": results,
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
