"""numba kernels: pure functions over preallocated arrays, nothing else.

Each writes in place and returns a count; none allocates, so the audio
callback may call them. ``nogil`` lets a worker thread run them beside the
event loop; ``cache`` keeps the compiled code on disk. Compilation happens
in :func:`streamtts.dsp.ring.warm_up`, at engine start, never at import
(``njit`` is lazy) and never in the callback.

Ring state (int64 array, see ``ring.py`` for the indices): monotonic
counters ``written`` (producer only), ``read`` (consumer only),
``clear_requested`` (producer only), ``clear_done`` (consumer only),
``underruns`` and ``playing`` flags.
"""

from __future__ import annotations

import numpy as np
from numba import njit

WRITTEN = 0
READ = 1
CLEAR_REQUESTED = 2
CLEAR_DONE = 3
UNDERRUNS = 4
ACTIVE = 5  # 1 while an utterance is playing: empty reads count as underruns
BLOCKS = 6
STATE_SIZE = 8


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
def first_audible(samples: np.ndarray, threshold: float) -> int:
    """Index of the first sample louder than ``threshold``; -1 if none."""
    for k in range(samples.shape[0]):
        # float(): compare in double precision with and without the JIT
        # (plain numpy would round the threshold to float32 instead).
        if abs(float(samples[k])) > threshold:
            return k
    return -1


@njit(nogil=True, cache=True)
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


def all_kernels() -> tuple[object, ...]:
    return (ring_write, ring_read, apply_gain_ramps, first_audible, limiter_gains)


def compile_for_production() -> None:
    """Compile every kernel for float32 audio and int64 state."""
    ring = np.zeros(16, dtype=np.float32)
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    block = np.ones(4, dtype=np.float32)
    ring_write(ring, state, block)
    ring_read(ring, state, block, 2)
    apply_gain_ramps(block, 1.0, 1, 1)
    first_audible(block, 0.5)
    limiter_gains(block, block.copy(), np.ones(1, dtype=np.float64), 0.5, 0.999)
