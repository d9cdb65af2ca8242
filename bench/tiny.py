"""A tiny ModernBERT and a tokenizer trained on given text: real model code, in seconds, no hub.

For the tests, the benchmarks and trying the finetune path offline; never a served default.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    ModernBertConfig,
    ModernBertForSequenceClassification,
    ModernBertModel,
    PreTrainedTokenizerFast,
)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tokenizer(texts: Iterable[str], vocab_size: int = 800) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS)
    tokenizer.train_from_iterator(texts, trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def tiny_config(tokenizer: PreTrainedTokenizerFast) -> ModernBertConfig:
    return ModernBertConfig(  # type: ignore[call-arg]  # keyword arguments the stub omits
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=512,
        global_attn_every_n_layers=1,
        local_attention=64,
        pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        num_labels=2,
    )


def save_tiny_base(texts: Iterable[str], directory: Path, seed: int = 0) -> Path:
    """A tiny *pretrained-style* encoder directory, the stand-in for answerdotai/ModernBERT-base."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(texts)
    ModernBertModel(tiny_config(tokenizer)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_tiny_classifier(texts: Iterable[str], directory: Path, seed: int = 0) -> Path:
    """A tiny sequence-classification checkpoint (untrained head), ready to score."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(texts)
    ModernBertForSequenceClassification(tiny_config(tokenizer)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
