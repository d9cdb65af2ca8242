"""Fine-tuning throughput of the ModernBERT-base architecture at max length 512, for a CUDA GPU.

    .venv/bin/python -m bench.gpu_finetune                 # on a CUDA machine, a few minutes
    .venv/bin/python -m bench.gpu_finetune --device cpu --steps 2 --batch-size 2   # smoke run

Random weights train at the same speed as real ones. Each step is a real training step
(forward, class-weighted cross-entropy, backward, AdamW, scheduler) on full 512-token sequences
— the worst case; real abstracts with dynamic padding are shorter. Precision: bf16 autocast where
the GPU supports it. Attention: the fastest implementation the installed transformers offers
(flash_attention_2 if the flash-attn package is present, else SDPA); fp32 weights under bf16
autocast, as the training module's Trainer runs them. The notebook's reference is
11.6 samples/s at 128 tokens on an Apple GPU; the goal is 25x that.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time

import torch

NOTEBOOK_SAMPLES_PER_S = 11.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = parser.parse_args()
    from transformers import ModernBertConfig, ModernBertForSequenceClassification

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here; run with --device cpu for a smoke run")
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    attention = "sdpa"
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        attention = "flash_attention_2"
    torch.manual_seed(0)
    config = ModernBertConfig(num_labels=2)
    # fp32 weights with bf16 autocast, as the Trainer's bf16=True does.
    model = ModernBertForSequenceClassification._from_config(
        config, attn_implementation=attention
    ).to(device)
    model.train()
    if args.compile:
        model = torch.compile(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6, weight_decay=0.05)
    total = args.warmup + args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 3))
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([0.54, 7.1], device=device))
    generator = torch.Generator().manual_seed(0)

    def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids = torch.randint(
            5, config.vocab_size, (args.batch_size, args.max_length), generator=generator
        )
        labels = torch.randint(0, 2, (args.batch_size,), generator=generator)
        return ids.to(device), torch.ones_like(ids).to(device), labels.to(device)

    def step() -> float:
        ids, mask, labels = batch()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=ids, attention_mask=mask).logits
        loss = loss_fn(logits.float(), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = time.perf_counter() - started
    rate = args.steps * args.batch_size / seconds
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "attention": attention,
        "bf16": bf16,
        "compile": args.compile,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "timed_steps": args.steps,
        "samples_per_s": round(rate, 2),
        "tokens_per_s": round(rate * args.max_length),
        "x_notebook_11.6_at_128": round(rate / NOTEBOOK_SAMPLES_PER_S, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1)
        if device.type == "cuda"
        else None,
        "steps_total": total,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
