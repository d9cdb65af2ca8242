"""What a researcher reads about a trained model: the model card, the PR curve, a summary table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from training.inference.artifact import MODEL_CARD_FILE, PR_CURVE_FILE, ModelMeta

logger = logging.getLogger(__name__)

TABLE_ROWS = (
    ("average_precision", "average precision"),
    ("roc_auc", "ROC AUC"),
    ("precision", "precision at the threshold"),
    ("recall", "recall at the threshold"),
    ("f1", "F1 at the threshold"),
    ("recommended_per_day", "recommended papers a day"),
    ("optimistic_best_f1", "F1 at this split's best threshold (optimistic)"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    """A Markdown table, one column per split."""
    splits = [name for name in ("validation", "test") if name in metrics]
    lines = [
        "| metric | " + " | ".join(splits) + " |",
        "| --- | " + " | ".join("---:" for _ in splits) + " |",
    ]
    for key, label in TABLE_ROWS:
        lines.append(f"| {label} | " + " | ".join(_fmt(metrics[s].get(key)) for s in splits) + " |")
    return "\n".join(lines)


def _inputs(meta: ModelMeta) -> str:
    text = " + ".join(meta.text_fields)
    if meta.meta_fields:
        text += f" and, each as a TF-IDF block of its own, its {', '.join(meta.meta_fields)}"
    left_out = meta.info.get("fit", {}).get("meta_fields_left_out") or {}
    if left_out:
        reasons = "; ".join(f"{name}: {why}" for name, why in left_out.items())
        text += f" (metadata left out: {reasons})"
    return text


def _calibration(meta: ModelMeta) -> str:
    cal = meta.calibration
    if not cal:
        return "the model's raw scores (not calibrated)"
    return (
        f"calibrated ({cal['method']}, fit on {cal['rows']} {cal['fit_on']} rows with "
        f"{cal['positives']} interesting)"
    )


def _served(info: dict[str, Any]) -> str:
    served = info.get("served_model") or {}
    if served.get("fit_on") == "all labels":
        return (
            f"refit on all {served['rows']} labels up to {served['up_to']} with the chosen "
            "configuration; the figures below are the split model's"
        )
    if served:
        return f"fit on the train split ({served['rows']} labels up to {served['up_to']})"
    return "fit on the train split"


def write_model_card(directory: Path, meta: ModelMeta) -> None:
    info, metrics = meta.info, meta.metrics
    splits = info.get("splits", {})
    split_lines = [
        f"| {name} | {part['rows']} | {part['positives']} | {part['first_date']} | "
        f"{part['last_date']} | {part['days']} |"
        for name, part in splits.items()
    ]
    hyper = "\n".join(f"- `{k}`: {v}" for k, v in sorted(info.get("hyperparameters", {}).items()))
    card = f"""# {info.get("name", directory.name)}

Recommends arXiv papers: the probability that a paper is interesting, from its
{_inputs(meta)}.

- method: `{meta.method}`, base model: `{meta.base_model}`, max length: {meta.max_length or "n/a"}
- threshold: **{meta.threshold:.4f}**, chosen {info.get("threshold_rule", "on validation")}
- probabilities: {_calibration(meta)}
- served model: {_served(info)}
- data: {info.get("data_source", "?")} (`{info.get("data_hash", "?")}`)
- trained {info.get("trained_at", "?")} in {info.get("fit_seconds", 0):.0f} s, \
seed {info.get("seed")}

## How good it is

The data were sorted by date; the model was trained on the oldest rows, the checkpoint and the
threshold were chosen on the validation rows, and the newest rows (test) were only ever scored.
**The test column is the honest estimate.** The last row picks the best threshold on the very
labels it scores, so it flatters the model; it is there only to compare with earlier figures
that were measured that way.

{metrics_table(metrics)}

| split | rows | positives | first day | last day | days |
| --- | ---: | ---: | --- | --- | ---: |
{chr(10).join(split_lines)}

"Recommended papers a day" is the papers at or above the threshold divided by the number of
distinct days in the split.

## Training

{hyper}

Library versions: {", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items()))}.

![precision-recall curve]({PR_CURVE_FILE})
"""
    (directory / MODEL_CARD_FILE).write_text(card, encoding="utf-8")


def plot_pr_curves(
    directory: Path,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    metrics: dict[str, dict[str, Any]],
    *,
    title: str,
) -> None:
    """Precision-recall curves for validation and test, with the chosen operating points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    figure, axes = plt.subplots(figsize=(6, 5))
    try:
        for name, (labels, scores) in curves.items():
            precision, recall, _ = precision_recall_curve(labels, scores)
            ap = metrics[name].get("average_precision")
            axes.plot(recall, precision, label=f"{name} (AP {_fmt(ap)})")
            axes.scatter(
                [metrics[name]["recall"]], [metrics[name]["precision"]], marker="o", zorder=3
            )
            axes.axhline(labels.mean(), linestyle=":", linewidth=0.8, color="grey")
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.set_title(title)
        axes.legend(loc="upper right")
        axes.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(directory / PR_CURVE_FILE, dpi=110)
    finally:
        plt.close(figure)
