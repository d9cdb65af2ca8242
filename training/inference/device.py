"""Device choice happens when a model is loaded, never at import (nor does torch's import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` prefers CUDA, then Apple's MPS, then the CPU; a named device must exist."""
    import torch

    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was requested but Apple MPS is not available")
    if preference not in {"cuda", "mps", "cpu"}:
        raise ValueError(f"unknown device {preference!r}; expected auto, cuda, mps or cpu")
    return torch.device(preference)
