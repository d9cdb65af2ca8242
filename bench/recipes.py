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
- ``stack``: a second stage. The text model's out-of-fold score (5 date-ordered folds), the
  authors' record (how many of an author's other papers the reader marked ✓ and ✕), a link to
  code (GitHub, GitLab, Hugging Face) or a project page, the primary category's record and a few
  counts go into a logistic regression fit on the night's labels.
- ``embed``: a logistic regression on all-MiniLM-L6-v2 mean-pooled embeddings of title and
  abstract (computed once for every paper, cached in bench/out); ``ensemble``: the mean of its
  probability and ``C=1``'s (both class-balanced).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler

from training.artifact import TEXT_COLUMN, metadata_frame
from training.config import TrainConfig
from training.layout import DataError, load_labelled_csv, paper_inputs, split_authors
from training.methods.linear import choose_c
from training.methods.tfidf import SOLVER, tfidf_features, usable_meta_fields
from training.split import split_by_date

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "bench/out/interest_meta.csv"
TOP_K = 10
CODE = re.compile(r"github\.com|gitlab\.com|huggingface\.co|\bcode\b", re.I)
PROJECT = re.compile(r"github\.io|project page|project website|\bwebsite\b", re.I)

logger = logging.getLogger("bench.recipes")

Recipe = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


def served_config() -> TrainConfig:
    """The service's tfidf retrain configuration (app.retrain builds it from these defaults)."""
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


def _authors(frame: pd.DataFrame) -> list[list[str]]:
    return [split_authors(names) for names in frame["authors"].fillna("")]


def _record(keys: list[list[str]], past_keys: list[list[str]], labels: np.ndarray, own: bool):  # type: ignore[no-untyped-def]
    """For each row, the ✓ and ✕ counts of its keys among the past rows (less its own label
    when the row is itself one of them)."""
    pos, neg = Counter(), Counter()
    for row_keys, label in zip(past_keys, labels, strict=True):
        for key in set(row_keys):
            (pos if label else neg)[key] += 1
    out = np.zeros((len(keys), 2))
    for i, row_keys in enumerate(keys):
        p = sum(pos[k] for k in set(row_keys))
        n = sum(neg[k] for k in set(row_keys))
        if own:  # the row's own label is not evidence about it
            p -= len(set(row_keys)) * int(labels[i])
            n -= len(set(row_keys)) * int(1 - labels[i])
        out[i] = (p, n)
    return out


def dense(frame: pd.DataFrame, text_score: np.ndarray, past: pd.DataFrame, own: bool) -> np.ndarray:
    labels = past["interest"].to_numpy()
    authors = _record(_authors(frame), _authors(past), labels, own)
    primary = [[c.split()[0]] if c else [] for c in frame["categories"].fillna("")]
    past_primary = [[c.split()[0]] if c else [] for c in past["categories"].fillna("")]
    category = _record(primary, past_primary, labels, own)
    text = (frame["abstract"].fillna("") + " " + frame["comment"].fillna("")).tolist()
    score = np.clip(text_score, 1e-6, 1 - 1e-6)
    return np.column_stack(
        [
            np.log(score / (1 - score)),
            np.log1p(authors[:, 0]),
            np.log1p(authors[:, 1]),
            (authors[:, 0] > 0).astype(float),
            np.log((category[:, 0] + 1) / (category[:, 0] + category[:, 1] + 2)),
            [bool(CODE.search(t)) for t in text],
            [bool(PROJECT.search(t)) for t in text],
            np.log1p([len(a) for a in _authors(frame)]),
            np.log1p(frame["abstract"].fillna("").str.len()),
        ]
    ).astype(float)


def stack(past: pd.DataFrame, day: pd.DataFrame, c: float = 1.0, folds: int = 5) -> np.ndarray:
    config = served_config()
    ordered = past.sort_values("submission_date", kind="stable").reset_index(drop=True)
    out_of_fold = np.zeros(len(ordered))
    bounds = np.linspace(0, len(ordered), folds + 1).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        rest = pd.concat([ordered.iloc[:lo], ordered.iloc[hi:]])
        out_of_fold[lo:hi] = fit_text(config, rest, c)(ordered.iloc[lo:hi])
    train_x = dense(ordered, out_of_fold, ordered, own=True)
    scaler = StandardScaler().fit(train_x)
    second = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(
        scaler.transform(train_x), ordered["interest"].to_numpy()
    )
    day_x = dense(day, fit_text(config, ordered, c)(day), ordered, own=False)
    return np.asarray(second.predict_proba(scaler.transform(day_x))[:, 1])


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
    from training.artifact import compose_text
    from training.predictor import embed_texts

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
