"""Checked wrappers over the level kernels: gain and the first audible sample.

The kernels trust their inputs (they run in tight loops); these check
shape and dtype once per chunk and raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as k

__all__ = ["AUDIBLE_THRESHOLD", "first_audible", "with_gain"]

# A sample at or below this (-60 dBFS) is silence for TTFA purposes.
AUDIBLE_THRESHOLD = 1e-3


def _check(samples: np.ndarray) -> None:
    if samples.dtype != np.float32 or samples.ndim != 1:
        raise ValueError(f"need 1-D float32 samples, got {samples.dtype} {samples.shape}")


def with_gain(samples: np.ndarray, gain: float) -> np.ndarray:
    """``samples`` times ``gain`` (a new array; the input is left alone)."""
    _check(samples)
    if not (np.isfinite(gain) and gain >= 0.0):
        raise ValueError(f"gain must be a finite number >= 0, got {gain}")
    if gain == 1.0:
        return samples
    out = samples.copy()
    k.apply_gain_ramps(out, float(gain), 0, 0)
    return out


def first_audible(samples: np.ndarray, threshold: float = AUDIBLE_THRESHOLD) -> int | None:
    """Index of the first sample louder than ``threshold``, or None."""
    _check(samples)
    index = int(k.first_audible(samples, float(threshold)))
    return index if index >= 0 else None
