"""Checked wrappers over the level kernels: gain, the first audible sample,
and a peak limiter for audio as it streams.

The kernels trust their inputs (they run in tight loops); these check
shape and dtype once per chunk and raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels as k

__all__ = [
    "AUDIBLE_THRESHOLD",
    "LIMITER_RELEASE_S",
    "STREAM_PEAK_MARGIN_DB",
    "PeakLimiter",
    "db_to_gain",
    "first_audible",
    "stream_ceiling",
    "with_gain",
]

# A sample at or below this (-60 dBFS) is silence for TTFA purposes.
AUDIBLE_THRESHOLD = 1e-3

# How fast a limiter's gain recovers after a peak. On the default voice at
# -16 LUFS (its speech peaks ~20 dB over its loudness): 0.05 s lowers the
# median speech sample 0.1 dB (90th percentile 3.7 dB); 0.1 s lowered it
# 0.7 dB (4.8), 0.2 s 1.9 dB (6.3), each needing more gain for the target.
LIMITER_RELEASE_S = 0.05

# A stream's limiter sees only samples; the wave between them rises higher
# (the default voice limited at -16 LUFS, benchmarks/loudness.py: up to
# 0.83 dB over its largest sample). Its sample ceiling sits this far under
# the true-peak ceiling asked for.
STREAM_PEAK_MARGIN_DB = 1.0


def stream_ceiling(true_peak_dbtp: float) -> float:
    """The sample ceiling (linear) of a stream's limiter under ``true_peak_dbtp``."""
    return db_to_gain(true_peak_dbtp - STREAM_PEAK_MARGIN_DB)


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


def db_to_gain(db: float) -> float:
    """A level in decibels as an amplitude factor."""
    return float(10.0 ** (db / 20.0))


class PeakLimiter:
    """Keeps every sample at or under ``ceiling`` (linear, below 1), with no
    look-ahead, for audio that cannot wait: where a sample would pass it the
    gain falls at once to just meet it, then recovers toward 1 with the
    time constant ``release_s``. So nothing it passes on is ever clipped;
    between samples the wave may rise a little higher (a true peak), which
    the ceiling's margin below full scale absorbs. One limiter follows one
    stream: its gain carries from call to call, so a stream cut anywhere
    gives the same samples as the whole (``tests/test_loudness.py``).
    ``lowered`` counts the samples it had to lower.
    """

    def __init__(
        self, ceiling: float, sample_rate_hz: int, release_s: float = LIMITER_RELEASE_S
    ) -> None:
        if not (math.isfinite(ceiling) and 0.0 < ceiling <= 1.0):
            raise ValueError(f"ceiling must be in (0, 1], got {ceiling}")
        if sample_rate_hz <= 0 or not release_s > 0.0:
            raise ValueError(
                f"need a rate > 0 and release_s > 0, got {sample_rate_hz}, {release_s}"
            )
        self.ceiling = float(ceiling)
        self.release = math.exp(-1.0 / (release_s * sample_rate_hz))
        self._state = np.ones(1, dtype=np.float64)
        self.lowered = 0

    @property
    def gain(self) -> float:
        """The gain now (1.0: not limiting)."""
        return float(self._state[0])

    def gains(self, peaks: np.ndarray) -> np.ndarray:
        """The gain for each sample of a peak envelope (float32, >= 0)."""
        _check(peaks)
        out = np.empty_like(peaks)
        self.lowered += int(k.limiter_gains(peaks, out, self._state, self.ceiling, self.release))
        return out

    def process(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` limited (a new array; the input is left alone)."""
        _check(samples)
        if not samples.size:
            return samples
        limited: np.ndarray = samples * self.gains(np.abs(samples))
        return limited
