"""The ring stage's kernels as plain Python: pure functions over
preallocated arrays, nothing else.

Each writes in place and returns a count; none allocates, so the audio
callback may call them. They are never called as written here:
``_kernels.py`` gives the package the same functions compiled by numba,
ahead of time (``aot.py``, once, at install) or just in time (at engine
start, cached on disk), never at import and never in the callback.

Ring state (int64 array, see ``ring.py`` for the indices): monotonic
counters ``written`` (producer only), ``read`` (consumer only),
``clear_requested`` (producer only), ``clear_done`` (consumer only),
``underruns`` and ``playing`` flags.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVE",
    "BLOCKS",
    "CLEAR_DONE",
    "CLEAR_REQUESTED",
    "KERNELS",
    "READ",
    "STATE_SIZE",
    "UNDERRUNS",
    "WRITTEN",
    "apply_gain_ramps",
    "first_audible",
    "limiter_gains",
    "ring_read",
    "ring_write",
]

WRITTEN = 0
READ = 1
CLEAR_REQUESTED = 2
CLEAR_DONE = 3
UNDERRUNS = 4
ACTIVE = 5  # 1 while an utterance is playing: empty reads count as underruns
BLOCKS = 6
STATE_SIZE = 8


def ring_write(ring: np.ndarray, state: np.ndarray, samples: np.ndarray) -> int:
    """Append as many samples as fit; returns how many were written."""
    capacity = ring.shape[0]
    written = state[WRITTEN]
    free = capacity - (written - state[READ])
    count = min(free, samples.shape[0])
    for k in range(count):
        ring[(written + k) % capacity] = samples[k]
    state[WRITTEN] = written + count
    return count


def ring_read(ring: np.ndarray, state: np.ndarray, out: np.ndarray, fade: int) -> int:
    """Fill ``out`` (always all of it) from the ring; returns samples read.

    Missing samples are zeros. A pending clear request fades what is
    available out over ``fade`` samples and drops the rest of the ring.
    """
    capacity = ring.shape[0]
    read = state[READ]
    available = state[WRITTEN] - read
    wanted = out.shape[0]
    if state[CLEAR_REQUESTED] != state[CLEAR_DONE]:
        n = min(available, fade, wanted)
        for k in range(n):
            out[k] = ring[(read + k) % capacity] * (1.0 - (k + 1) / (n + 1))
        for k in range(n, wanted):
            out[k] = 0.0
        state[READ] = state[WRITTEN]  # drop everything queued
        state[CLEAR_DONE] = state[CLEAR_REQUESTED]
        state[BLOCKS] += 1
        return n
    n = min(available, wanted)
    for k in range(n):
        out[k] = ring[(read + k) % capacity]
    for k in range(n, wanted):
        out[k] = 0.0
    state[READ] = read + n
    if n < wanted and state[ACTIVE] != 0:
        state[UNDERRUNS] += 1
    state[BLOCKS] += 1
    return n


def apply_gain_ramps(samples: np.ndarray, gain: float, fade_in: int, fade_out: int) -> int:
    """Scale by ``gain`` with linear ramps over the first/last samples."""
    n = samples.shape[0]
    for k in range(n):
        g = gain
        if k < fade_in:
            g *= (k + 1) / (fade_in + 1)
        if k >= n - fade_out:
            g *= (n - k) / (fade_out + 1)
        samples[k] *= g
    return n


def first_audible(samples: np.ndarray, threshold: float) -> int:
    """Index of the first sample louder than ``threshold``; -1 if none."""
    for k in range(samples.shape[0]):
        # float(): compare in double precision with and without the JIT
        # (plain numpy would round the threshold to float32 instead).
        if abs(float(samples[k])) > threshold:
            return k
    return -1


def limiter_gains(
    peaks: np.ndarray, gains: np.ndarray, state: np.ndarray, ceiling: float, release: float
) -> int:
    """A peak limiter's gain for each sample of a peak envelope, no look-ahead.

    The gain falls at once to ``ceiling / peak`` wherever ``peak`` times it
    would pass the ceiling, and otherwise recovers toward 1 by the factor
    ``release`` a sample. ``state[0]`` carries the gain from call to call.
    Returns how many samples it had to lower.
    """
    gain = state[0]
    lowered = 0
    for k in range(peaks.shape[0]):
        gain = 1.0 - (1.0 - gain) * release
        # float(): in double precision with and without the JIT.
        peak = float(peaks[k])
        if peak * gain > ceiling:
            gain = ceiling / peak
            lowered += 1
        gains[k] = gain
    state[0] = gain
    return lowered


# Each kernel and the one signature it is compiled for: float32 audio,
# int64 ring state, a float64 limiter state.
KERNELS = {
    "ring_write": (ring_write, "i8(f4[:], i8[:], f4[:])"),
    "ring_read": (ring_read, "i8(f4[:], i8[:], f4[:], i8)"),
    "apply_gain_ramps": (apply_gain_ramps, "i8(f4[:], f8, i8, i8)"),
    "first_audible": (first_audible, "i8(f4[:], f8)"),
    "limiter_gains": (limiter_gains, "i8(f4[:], f4[:], f8[:], f8, f8)"),
}
