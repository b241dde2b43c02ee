"""PlaybackClock: which stream samples have been heard, and when, from the
device's per-block DAC times (no device needed)."""

from __future__ import annotations

import pytest

from streamtts.sinks.playback_clock import PlaybackClock

RATE = 1000  # one sample a millisecond keeps the arithmetic readable


def clock_with_blocks(*blocks: tuple[int, int, float, float]) -> PlaybackClock:
    clock = PlaybackClock(RATE, history_blocks=8)
    for block in blocks:
        clock.block(*block)
    return clock


def test_samples_are_heard_when_the_device_said() -> None:
    # Callbacks at t=0 and t=0.01 took 10 samples each; the device said each
    # block reaches the DAC 0.1 s after its callback.
    clock = clock_with_blocks((0, 10, 0.0, 0.1), (10, 10, 0.01, 0.11))
    assert clock.heard_by(0.05) == 0  # taken, not yet heard
    assert clock.heard_by(0.1) == 0
    assert clock.heard_by(0.105) == 5
    assert clock.heard_by(0.115) == 15
    assert clock.heard_by(5.0) == 20  # nothing beyond what was taken
    assert clock.time_heard(0) == pytest.approx(0.1)
    assert clock.time_heard(14) == pytest.approx(0.114)
    assert clock.time_heard(20) is None  # no callback has taken it yet


def test_empty_blocks_and_a_cleared_ring() -> None:
    # An empty block (nothing queued), then a barge-in: the block after the
    # clear starts at position 100, the samples 15..99 were dropped.
    clock = clock_with_blocks(
        (0, 10, 0.0, 0.1), (10, 0, 0.01, 0.11), (10, 5, 0.02, 0.12), (100, 10, 0.03, 0.13)
    )
    assert clock.heard_by(0.115) == 10  # the empty block added nothing
    assert clock.heard_by(0.124) == 14
    assert clock.heard_by(0.135) == 105
    assert clock.time_heard(12) == pytest.approx(0.122)
    assert clock.time_heard(50) == pytest.approx(0.13)  # dropped: "heard" with the next block
    assert clock.time_heard(105) == pytest.approx(0.135)


def test_history_is_bounded_and_old_samples_count_as_heard() -> None:
    clock = PlaybackClock(RATE, history_blocks=4)
    for k in range(100):
        clock.block(10 * k, 10, 0.01 * k, 0.01 * k + 0.05)
    assert clock.blocks == 100
    assert clock.heard_by(10.0) == 1000
    old = clock.time_heard(5)  # long out of the history: heard long ago
    assert old is not None and old <= 0.01 * 96 + 0.05


def test_measured_latency_is_the_worst_wait_plus_the_worst_delay() -> None:
    clock = clock_with_blocks(
        (0, 10, 0.0, 0.10), (10, 10, 0.0, 0.11), (20, 10, 0.02, 0.14), (30, 10, 0.021, 0.13)
    )
    assert clock.delay_s() == pytest.approx(0.12)
    assert clock.callback_gap_s() == pytest.approx(0.02)
    assert PlaybackClock(RATE).delay_s() == 0.0
