"""Speech that does not break on a busy machine: an utterance starts playing
only once the audio in hand covers making the next chunk at the pace
measured now. The policy is tested sans-IO; the engine on virtual time
with a voice whose calls take longer, as on a busy CPU."""

from __future__ import annotations

import numpy as np
import pytest
import trio

from streamtts import EngineOptions, open_engine
from streamtts.backend import Pace
from streamtts.messages import AudioChunk, Segment
from streamtts.output import StartGate
from streamtts.testing import FakeBackend, FakeSink

RATE = 8000
SEGMENT = Segment("Hello there, friend.", 0, 20, "end", 0)


def chunk(samples: int, last: bool = False, quiet: int = 0) -> AudioChunk:
    audio = np.full(samples, 0.3, np.float32)
    audio[:quiet] = 0.0
    return AudioChunk(audio, SEGMENT, 0, last)


class Fixed:
    """A pace that says the next chunk takes ``seconds``, whatever it is."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked: list[int] = []

    def next_chunk_s(self, index: int) -> float:
        self.asked.append(index)
        return self.seconds


def test_at_rest_the_first_chunk_plays_at_once() -> None:
    gate = StartGate(RATE, margin=1.5)
    assert gate.ready([chunk(800)], Fixed(0.02))  # 100 ms in hand, 30 ms needed


def test_under_load_chunks_wait_until_they_cover_the_next() -> None:
    gate = StartGate(RATE, margin=1.5)
    pace = Fixed(0.1)  # the next chunk takes 100 ms now: 150 ms wanted in hand
    assert not gate.ready([chunk(800)], pace)
    assert gate.ready([chunk(800), chunk(800)], pace)
    assert pace.asked == [1, 2]  # the segment's next chunk each time


def test_a_segments_last_chunk_asks_for_a_new_segment() -> None:
    pace = Fixed(0.01)
    StartGate(RATE, margin=1.5).ready([chunk(800, last=True)], pace)
    assert pace.asked == [0]  # the next is a first chunk: the encoder's time too


def test_a_trimmed_lead_in_is_not_audio_in_hand() -> None:
    held = [chunk(800, quiet=600)]  # 75 ms of quiet lead-in
    assert StartGate(RATE, 1.5, trim_lead_in=False).ready(held, Fixed(0.05))
    assert not StartGate(RATE, 1.5, trim_lead_in=True).ready(held, Fixed(0.05))


def test_no_margin_or_a_long_hold_plays() -> None:
    assert StartGate(RATE, margin=0.0).ready([chunk(10)], Fixed(10.0))
    held = [chunk(8000)] * 4  # 4 s in hand: a machine slower than real time gaps anyway
    assert StartGate(RATE, margin=1.5, max_hold_s=3.0).ready(held, Fixed(10.0))


def test_pace_follows_the_recent_calls() -> None:
    pace = Pace(weight=0.5)
    for _ in range(12):
        pace.decoded(1, 0.2)
        pace.encoded(0.1)
    assert pace.next_chunk_s(1) == pytest.approx(0.2, rel=1e-3)
    assert pace.next_chunk_s(0) == pytest.approx(pace.chunk_s[0] + 0.1, rel=1e-3)
    pace.decoded(9, 0.5)  # chunks past the fourth share the last entry
    assert pace.chunk_s[-1] > pace.chunk_s[1]


class BusyBackend(FakeBackend):
    """Calls take ``load`` times as long as at rest: a CPU shared with others."""

    def __init__(self, load: float) -> None:
        # A first chunk of 100 ms audio; at rest the second takes 20 ms.
        super().__init__(
            sample_rate_hz=RATE,
            encode_s=0.02 * load,
            first_chunk_s=0.01 * load,
            chunk_s=0.02 * load,
            first_chunk_samples=800,
            chunk_samples=2400,
        )


async def speak(load: float, margin: float) -> tuple[int, float]:
    """Underruns and TTFA of three sentences on a machine ``load`` times slower."""
    sink = FakeSink(queue_s=0.5)
    options = EngineOptions(start_margin=margin)
    async with open_engine(backend=BusyBackend(load), sink=sink, options=options) as engine:
        await engine.say("Warm the pace up first, please.")
        before = sink.underruns
        result = await engine.say("One, two. Three four five six. Seven eight nine ten.")
    assert result.stats.ttfa_s is not None
    return sink.underruns - before, result.stats.ttfa_s


async def test_a_busy_machine_starts_later_and_never_breaks(autojump_clock: trio.abc.Clock) -> None:
    at_rest_underruns, at_rest_ttfa = await speak(load=1.0, margin=1.5)
    busy_underruns, busy_ttfa = await speak(load=9.0, margin=1.5)
    assert at_rest_underruns == 0 and busy_underruns == 0
    assert at_rest_ttfa < 0.05  # at rest nothing waits: encoder + first chunk
    assert busy_ttfa > at_rest_ttfa * 9  # under load: later, whole
    # Without the margin, the same busy machine breaks the speech.
    unguarded_underruns, _ = await speak(load=9.0, margin=0.0)
    assert unguarded_underruns > 0


def test_what_the_sink_holds_back_is_not_audio_in_hand() -> None:
    held = [chunk(800)]  # 100 ms made; 75 ms wanted
    assert StartGate(RATE, 1.5).ready(held, Fixed(0.05))
    # A resampler keeping 40 ms of it until more comes leaves 60 ms playable.
    assert not StartGate(RATE, 1.5).ready(held, Fixed(0.05), held_back_s=0.04)
