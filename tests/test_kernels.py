"""numba kernels against their numpy twins; streaming equals batch."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtts.dsp import _kernels as k
from streamtts.dsp.levels import PeakLimiter, db_to_gain
from streamtts.dsp.ring import SampleRing, warm_up

from . import naive

floats = st.floats(-1.0, 1.0, width=32)


KERNELS = ("ring_write", "ring_read", "apply_gain_ramps", "first_audible", "limiter_gains")


def test_warm_up_compiles_every_kernel() -> None:
    warm_up()
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        pytest.skip("JIT disabled: kernels run as Python")
    if k.COMPILED == "just in time":
        for name in KERNELS:
            assert getattr(k, name).signatures, name


@pytest.mark.slow  # numba compiles a C extension: ~20 s
@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="numba compiles it")
def test_ahead_of_time_kernels_equal_the_jit(tmp_path: Path) -> None:
    """The kernels compiled ahead of time (what scripts/install makes) give
    the just-in-time kernels' results, and load without numba."""
    import importlib.machinery
    import importlib.util
    import subprocess
    import sys

    from streamtts.dsp import aot

    path = aot.build(tmp_path)
    loader = importlib.machinery.ExtensionFileLoader("_streamtts_kernels", str(path))
    spec = importlib.util.spec_from_file_location("_streamtts_kernels", path, loader=loader)
    assert spec is not None
    built = importlib.util.module_from_spec(spec)
    loader.exec_module(built)
    rng = np.random.default_rng(3)
    for _ in range(50):
        block = rng.uniform(-1, 1, 257).astype(np.float32)
        ring = np.zeros(300, np.float32)
        state = np.zeros(k.STATE_SIZE, np.int64)
        jit_ring, jit_state = ring.copy(), state.copy()
        assert built.ring_write(ring, state, block) == k.ring_write(jit_ring, jit_state, block)
        out, jit_out = np.empty(100, np.float32), np.empty(100, np.float32)
        assert built.ring_read(ring, state, out, 8) == k.ring_read(jit_ring, jit_state, jit_out, 8)
        np.testing.assert_array_equal(out, jit_out)
        np.testing.assert_array_equal(state, jit_state)
        gained, jit_gained = block.copy(), block.copy()
        built.apply_gain_ramps(gained, 0.7, 5, 9)
        k.apply_gain_ramps(jit_gained, 0.7, 5, 9)
        np.testing.assert_array_equal(gained, jit_gained)
        assert built.first_audible(block, 0.9) == k.first_audible(block, 0.9)
        gains, jit_gains = np.empty_like(block), np.empty_like(block)
        peaks = np.abs(block) * 2
        limit, jit_limit = np.ones(1), np.ones(1)
        built.limiter_gains(peaks, gains, limit, 0.8, 0.99)
        k.limiter_gains(peaks, jit_gains, jit_limit, 0.8, 0.99)
        np.testing.assert_array_equal(gains, jit_gains)
    # With the build in the cache, the package loads it and never imports numba.
    (tmp_path / "kernels").mkdir()
    path.rename(tmp_path / "kernels" / "moved")
    probe = (
        "import sys; from streamtts.dsp import aot, _kernels as k; "
        "print(k.COMPILED, 'numba' in sys.modules)"
    )
    env = {**os.environ, "STREAMTTS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("STREAMTTS_KERNELS", None)
    made = subprocess.run(
        [sys.executable, "-m", "streamtts.dsp.build_kernels"],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    ran = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.stdout.split() == ["ahead", "of", "time", "False"], ran.stdout + ran.stderr


@given(
    samples=st.lists(floats, max_size=200),
    gain=st.floats(0.0, 2.0),
    fade_in=st.integers(0, 50),
    fade_out=st.integers(0, 50),
)
def test_gain_ramps_match_numpy(
    samples: list[float], gain: float, fade_in: int, fade_out: int
) -> None:
    x = np.asarray(samples, dtype=np.float32)
    expected = naive.gain_ramps(x, gain, fade_in, fade_out)
    out = x.copy()
    assert k.apply_gain_ramps(out, gain, fade_in, fade_out) == x.size
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@given(samples=st.lists(floats, max_size=100), threshold=st.floats(0.0, 1.0))
def test_first_audible_matches_numpy(samples: list[float], threshold: float) -> None:
    x = np.asarray(samples, dtype=np.float32)
    assert k.first_audible(x, threshold) == naive.first_audible(x, threshold)


@settings(max_examples=200)
@given(
    capacity=st.integers(1, 64),
    fade=st.integers(0, 8),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(0, 80)),
            st.tuples(st.just("read"), st.integers(1, 80)),
            st.tuples(st.just("clear"), st.just(0)),
            st.tuples(st.just("active"), st.booleans()),
        ),
        max_size=60,
    ),
)
def test_ring_matches_naive_ring(capacity: int, fade: int, ops: list[tuple[str, object]]) -> None:
    ring, twin = SampleRing(capacity, fade), naive.NaiveRing(capacity, fade)
    counter = 0
    for op, arg in ops:
        if op == "write":
            assert isinstance(arg, int)
            data = (np.arange(counter, counter + arg) % 1000 / 1000).astype(np.float32)
            counter += arg
            assert ring.write(data) == twin.write(data)
        elif op == "read":
            assert isinstance(arg, int)
            a, b = np.full(arg, 9, np.float32), np.full(arg, 9, np.float32)
            assert ring.read_into(a) == twin.read_into(b)
            np.testing.assert_allclose(a, b, rtol=1e-6)
        elif op == "clear":
            ring.request_clear()
            twin.clear = True
        else:
            ring.set_active(bool(arg))
            twin.active = bool(arg)
        assert 0 <= ring.fill <= capacity
        assert ring.fill == len(twin.queue) or ring.clear_pending
        assert ring.underruns == twin.underruns


def test_wrap_around_and_full_and_empty_edges() -> None:
    ring = SampleRing(8, fade_samples=0)
    assert ring.write(np.arange(6, dtype=np.float32)) == 6
    out = np.empty(5, np.float32)
    assert ring.read_into(out) == 5  # read index now 5
    assert ring.write(np.arange(10, 20, dtype=np.float32)) == 7  # wraps; full at 8
    assert ring.free == 0 and ring.write(np.ones(3, np.float32)) == 0
    out = np.empty(10, np.float32)
    assert ring.read_into(out) == 8
    np.testing.assert_array_equal(out, [5, 10, 11, 12, 13, 14, 15, 16, 0, 0])
    assert ring.fill == 0 and ring.read_into(np.empty(3, np.float32)) == 0


def test_streaming_writes_equal_one_batch() -> None:
    rng = np.random.default_rng(1)
    signal = rng.uniform(-1, 1, 5000).astype(np.float32)
    ring = SampleRing(512, fade_samples=0)
    heard, pos = [], 0
    while pos < signal.size or ring.fill:
        step = int(rng.integers(1, 300))
        pos += ring.write(signal[pos : pos + step])
        block = np.empty(int(rng.integers(1, 200)), np.float32)
        n = ring.read_into(block)
        heard.append(block[:n])
    np.testing.assert_array_equal(np.concatenate(heard), signal)


def test_clear_fades_out_then_silence_and_blocks_writes_until_done() -> None:
    ring = SampleRing(100, fade_samples=10)
    ring.write(np.ones(50, np.float32))
    ring.request_clear()
    assert ring.write(np.ones(5, np.float32)) == 0  # old audio not dropped yet
    out = np.empty(32, np.float32)
    assert ring.read_into(out) == 10
    assert np.all(np.diff(out[:10]) < 0) and out[0] < 1.0 and out[9] < 0.1
    assert np.all(out[10:] == 0)
    assert ring.fill == 0 and not ring.clear_pending
    assert ring.write(np.ones(5, np.float32)) == 5


def test_underruns_count_only_while_active() -> None:
    ring = SampleRing(16, 0)
    ring.read_into(np.empty(4, np.float32))
    assert ring.underruns == 0
    ring.set_active(True)
    ring.write(np.ones(2, np.float32))
    ring.read_into(np.empty(4, np.float32))
    assert ring.underruns == 1


def test_ring_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="capacity must be >= 1, got 0"):
        SampleRing(0, 1)
    with pytest.raises(ValueError, match="need 1-D float32 samples, got float64"):
        SampleRing(4, 1).write(np.zeros(2))


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already running without the JIT"
)
def test_kernel_tests_pass_without_the_jit() -> None:
    """The same tests with NUMBA_DISABLE_JIT=1: the kernels as plain Python,
    so coverage sees their lines and a numba-only behaviour would show."""
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_kernels.py"],
        cwd=ROOT,
        env={**os.environ, "NUMBA_DISABLE_JIT": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout


# -- the peak limiter (loudness targets on a stream) ------------------------------------


@settings(max_examples=200, deadline=None)  # the first call compiles the kernel
@given(
    peaks=st.lists(st.floats(0.0, 8.0, width=32), max_size=300),
    ceiling=st.floats(0.05, 1.0),
    release=st.floats(0.0, 0.99999),
    start=st.floats(0.01, 1.0),
)
def test_limiter_gains_match_numpy(
    peaks: list[float], ceiling: float, release: float, start: float
) -> None:
    x = np.asarray(peaks, dtype=np.float32)
    gains, state = np.full(x.size, 9, np.float32), np.array([start])
    lowered = k.limiter_gains(x, gains, state, ceiling, release)
    twin, after, twin_lowered = naive.limiter_gains(x, ceiling, release, start)
    np.testing.assert_allclose(gains, twin, rtol=1e-6)
    assert lowered == twin_lowered and math.isclose(state[0], after, rel_tol=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    samples=st.lists(floats, min_size=1, max_size=400),
    gain=st.floats(0.1, 30.0),
    cuts=st.lists(st.integers(0, 400), max_size=8),
    ceiling_db=st.floats(-12.0, 0.0),
)
def test_streaming_equals_batch_and_nothing_passes_the_ceiling(
    samples: list[float], gain: float, cuts: list[int], ceiling_db: float
) -> None:
    x = np.asarray(samples, dtype=np.float32) * np.float32(gain)
    ceiling = db_to_gain(ceiling_db)
    whole = PeakLimiter(ceiling, 22050).process(x)
    streaming = PeakLimiter(ceiling, 22050)
    edges = [0, *sorted(c % (x.size + 1) for c in cuts), x.size]
    pieces = [streaming.process(x[a:b]) for a, b in itertools.pairwise(edges)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert float(np.max(np.abs(whole))) <= ceiling * (1 + 1e-6)
