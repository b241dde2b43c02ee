"""The actor graph on virtual time: TTFA, backpressure, bounds, barge-in.

Fakes spend virtual time (trio's autojump clock), so these tests are exact
and fast; the real voice is tested end to end elsewhere.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
import trio

from streamtts.config import ChannelSizes, EngineOptions
from streamtts.engine import open_engine
from streamtts.errors import StreamTTSError
from streamtts.events import (
    Event,
    Interrupted,
    SegmentFailed,
    SegmentStarted,
    UtteranceDone,
    WordStarted,
)
from streamtts.messages import AudioChunk, Planned, Prepared
from streamtts.testing import FakeBackend, FakeSink

SIZES = ChannelSizes()


async def test_ttfa_is_encoder_plus_first_chunk(autojump_clock: trio.abc.Clock) -> None:
    backend = FakeBackend(prepare_s=0.002, encode_s=0.021, first_chunk_s=0.013)
    async with open_engine(backend=backend, sink=FakeSink()) as engine:
        result = await engine.say("Hello there, this is a test of the first audio.")
    assert not result.interrupted
    assert result.stats.ttfa_s == pytest.approx(0.002 + 0.021 + 0.013)
    # Heard one player block (10 ms) later at most.
    assert result.stats.ttfa_s <= result.stats.ttfa_heard_s <= result.stats.ttfa_s + 0.0101


async def test_ttfa_counts_from_the_piece_that_completes_the_segment(
    autojump_clock: trio.abc.Clock,
) -> None:
    backend = FakeBackend(prepare_s=0.0, encode_s=0.02, first_chunk_s=0.01)
    async with open_engine(backend=backend, sink=FakeSink()) as engine:
        async with engine.stream() as stream:
            for token in ["The ", "first ", "sentence ", "ends ", "here."]:
                await stream.send(token)
                await trio.sleep(0.03)  # an LLM's pace
            await stream.send(" And")  # makes the boundary certain
        assert stream.result is not None
    assert stream.result.stats.ttfa_s == pytest.approx(0.03)


class _LoggedBackend(FakeBackend):
    """Notes when each segment's encoder starts and how much of each
    segment has been decoded, in virtual time."""

    def __init__(self, **costs: Any) -> None:
        super().__init__(**costs)
        self.encode_started: dict[int, float] = {}
        self.decoded: dict[int, list[tuple[float, int, bool]]] = {}

    async def encode(self, prepared: Prepared, rng: Any, sample_offset: int) -> Planned:
        self.encode_started[prepared.segment.index] = trio.current_time()
        return await super().encode(prepared, rng, sample_offset)

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        chunk = await super().next_chunk(planned)
        done = self.decoded.setdefault(chunk.segment_index, [])
        total = (done[-1][1] if done else 0) + chunk.samples.size
        done.append((trio.current_time(), total, chunk.is_last))
        return chunk


@pytest.mark.parametrize(
    "text",
    [
        "The first sentence is long enough to play for a while. The second one is long too. "
        "And a third one follows them.",
        "Oh. Yes. Fine, thanks. Then the long one comes last of all.",  # shorter than 0.5 s
    ],
)
async def test_next_segment_waits_for_the_decoders_head_start(
    autojump_clock: trio.abc.Clock, text: str
) -> None:
    """Neither the phonemizer nor the encoder runs beside a segment's first
    chunks: segment k+1 is prepared and encoded once 0.5 s of segment k is
    decoded, or all of it."""
    rate = 8000
    backend = _LoggedBackend(
        sample_rate_hz=rate,
        encode_s=0.02,
        first_chunk_s=0.015,
        chunk_s=0.03,
        first_chunk_samples=800,
        chunk_samples=1600,
    )
    options = EngineOptions(decoder_head_start_s=0.5)
    async with open_engine(backend=backend, sink=FakeSink(), options=options) as engine:
        result = await engine.say(text)
    assert not result.interrupted
    segments = sorted(backend.encode_started)
    assert len(segments) >= 3
    assert result.stats.ttfa_s == pytest.approx(0.001 + 0.02 + 0.015)  # the first is not held
    for before, after in itertools.pairwise(segments):
        released = next(
            at for at, total, last in backend.decoded[before] if total >= 0.5 * rate or last
        )
        assert backend.encode_started[after] >= released
        # ...and not later than needed: the phonemizer and the encoder were
        # waiting for exactly that (the phonemizer's 1 ms comes first).
        assert backend.encode_started[after] == pytest.approx(released + backend.prepare_s)


async def test_a_long_text_starts_before_it_is_all_split(
    autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long text given whole: the first sentence is on its way after the
    segmenter has seen a slice of it, not all of it (an hour of text takes
    it ~40 ms, all before the first audio)."""
    import streamtts.utterance

    fed_when_first_prepared: list[int] = []

    class CountingSegmenter(streamtts.utterance.Segmenter):
        fed = 0

        def feed(self, text: str) -> list[Any]:
            CountingSegmenter.fed += len(text)
            return super().feed(text)

    class Backend(FakeBackend):
        async def prepare(self, segment: Any) -> Any:
            if not fed_when_first_prepared:
                fed_when_first_prepared.append(CountingSegmenter.fed)
            return await super().prepare(segment)

    monkeypatch.setattr(streamtts.utterance, "Segmenter", CountingSegmenter)
    text = " ".join(f"This is sentence number {i} of a long text." for i in range(400))
    backend = Backend(encode_s=0.001, first_chunk_s=0.001, chunk_s=0.001)
    async with open_engine(backend=backend, sink=FakeSink(slowdown=0.01)) as engine:
        result = await engine.say(text)
    assert not result.interrupted and result.stats.segments == 400
    assert CountingSegmenter.fed == len(text)
    assert fed_when_first_prepared[0] <= 2000


async def test_slow_sink_makes_every_producer_wait(autojump_clock: trio.abc.Clock) -> None:
    backend = FakeBackend(encode_s=0.001, first_chunk_s=0.001, chunk_s=0.001)
    sink = FakeSink(queue_s=0.2, slowdown=3.0)
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    async with open_engine(backend=backend, sink=sink) as engine:
        async with engine.stream() as stream:
            await stream.send(text)
            # The engine cannot have run ahead: the backend is far faster
            # than the sink, yet only bounded work has been done.
            await trio.sleep(5.0)
            assert backend.calls.count("encode") <= 2 + SIZES.segments + SIZES.plans + SIZES.chunks
        assert stream.result is not None
    # Backpressure reached every edge: each one filled up while the sink
    # was the bottleneck (a stage that buffered on its own would leave the
    # edges before it empty), and the sink's queue filled to its size.
    peaks = stream.result.stats.peak_buffers
    for edge in ("segments", "plans", "chunks"):
        assert peaks[edge] == getattr(SIZES, edge), (edge, peaks)
    # The phonemizer is held by the head-start gate rather than by its
    # edge: it never runs more than one segment ahead of the encoder.
    lead = 0
    for call in backend.calls:
        lead += {"prepare": 1, "encode": -1}.get(call, 0)
        assert lead <= 2, backend.calls
    assert sink.peak_fill == sink.capacity
    assert backend.calls.count("encode") == 40


@pytest.mark.slow  # an hour of text through the graph: long even on virtual time
async def test_an_hour_of_text_keeps_every_buffer_bounded(autojump_clock: trio.abc.Clock) -> None:
    backend = FakeBackend(seconds_per_char=0.06, chunk_samples=8000, encode_s=0.01, chunk_s=0.02)
    # A fast sink (20x real time) taking 100 ms blocks: an hour is 36,000 of them.
    sink = FakeSink(queue_s=0.5, slowdown=0.05, block_s=0.1)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "runs"]
    sentences = [" ".join(random.Random(i).choices(words, k=12)) + "." for i in range(1100)]
    chars = sum(len(s) + 1 for s in sentences)
    assert chars * 0.06 > 3600  # an hour of audio
    heard = [0]  # segments whose start has been heard

    def count(event: Event) -> None:
        heard[0] += isinstance(event, SegmentStarted)

    lead: list[int] = []  # sentences handed over but not yet heard
    async with open_engine(backend=backend, sink=sink, on_event=count) as engine:
        async with engine.stream() as stream:
            for sent, sentence in enumerate(sentences, start=1):
                await stream.send(sentence + " ")
                lead.append(sent - heard[0])
        assert stream.result is not None
    stats = stream.result.stats
    assert stats.audio_s > 3600
    assert stats.segments == 1100
    # The caller can run ahead of what is heard by the engine's buffers only
    # (16 pieces, 2 segments, 1 prepared, 1 plan, 2 chunks, the sink's 0.5 s,
    # and the one segment each stage holds in hand): a few dozen sentences,
    # never the hour. A stage that buffered on its own would let it grow.
    assert max(lead) <= 30, max(lead)


async def test_word_and_segment_events_fire_when_heard(autojump_clock: trio.abc.Clock) -> None:
    events: list[Event] = []
    sink = FakeSink()
    async with open_engine(backend=FakeBackend(), sink=sink, on_event=events.append) as engine:
        result = await engine.say("One two three. Four five.")
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SegmentStarted" and kinds[-1] == "UtteranceDone"
    words = [e for e in events if isinstance(e, WordStarted)]
    assert [w.word for w in words] == ["One", "two", "three.", "Four", "five."]
    assert [("One two three. Four five."[w.text_start : w.text_end]) for w in words] == [
        w.word for w in words
    ]
    times = [w.at_s for w in words]
    assert times == sorted(times) and times[-1] - times[0] > 0.5  # spread over the audio
    segments = [e for e in events if isinstance(e, SegmentStarted)]
    assert [s.text.strip() for s in segments] == ["One two three.", "Four five."]
    assert isinstance(events[-1], UtteranceDone) and events[-1].stats is result.stats


async def test_stalled_stream_speaks_the_words_it_has(autojump_clock: trio.abc.Clock) -> None:
    events: list[Event] = []
    options = EngineOptions(stall_s=0.2)
    async with (
        open_engine(
            backend=FakeBackend(), sink=FakeSink(), options=options, on_event=events.append
        ) as engine,
        engine.stream() as stream,
    ):
        await stream.send("waiting for the rest of this")
        await trio.sleep(1.0)  # the producer stalls
        started = [e for e in events if isinstance(e, SegmentStarted)]
        assert [s.text for s in started] == ["waiting for the rest of "]
        await stream.send(" sentence.")


async def test_interrupt_anywhere_then_the_next_utterance_plays(
    autojump_clock: trio.abc.Clock,
) -> None:
    rng = random.Random(7)
    events: list[Event] = []
    sink = FakeSink()
    text = "First sentence here, with a clause. Second one follows it. And a third."
    async with open_engine(backend=FakeBackend(), sink=sink, on_event=events.append) as engine:
        for _ in range(60):
            events.clear()
            async with trio.open_nursery() as nursery:
                results = []

                async def speak(results: list[object] = results) -> None:
                    results.append(await engine.say(text))

                nursery.start_soon(speak)
                await trio.sleep(rng.uniform(0.0, 4.0))
                await engine.interrupt()
            (result,) = results
            assert engine.active == 0  # nothing left behind
            assert sink.queued == 0 and sink.heard() == sink.accepted
            if result.interrupted:  # type: ignore[attr-defined]
                assert isinstance(events[-1], Interrupted)
                heard = events[-1].last_word
                assert heard is None or heard.word in text
            after = await engine.say("Next.")
            assert not after.interrupted and after.stats.audio_s > 0


async def test_a_failing_segment_is_skipped_and_the_rest_is_spoken(
    autojump_clock: trio.abc.Clock,
) -> None:
    events: list[Event] = []
    backend = FakeBackend(fail_on="boom")
    async with open_engine(backend=backend, sink=FakeSink(), on_event=events.append) as engine:
        result = await engine.say("Fine. Then boom. Then more.")
        assert result.stats.failed_segments == 1
        spoken = [e.text.strip() for e in events if isinstance(e, SegmentStarted)]
        assert spoken == ["Fine.", "Then more."]
        (failed,) = [e for e in events if isinstance(e, SegmentFailed)]
        assert failed.text.strip() == "Then boom." and "injected failure" in failed.error
        with pytest.raises(StreamTTSError, match="no segment of the text could be spoken"):
            await engine.say("boom boom.")
        again = await engine.say("Still speaking.")
        assert not again.interrupted and again.stats.audio_s > 0


async def test_statistics_report_every_buffer(autojump_clock: trio.abc.Clock) -> None:
    async with open_engine(backend=FakeBackend(), sink=FakeSink()) as engine:
        await engine.say("Numbers, please. And more numbers.")
        stats = engine.statistics()
    assert set(stats) >= {
        "ttfa_s",
        "rtf",
        "audio_s",
        "underruns",
        "peak_buffers",
        "cancel_latency_s",
    }
    assert set(stats["peak_buffers"]) == {"segments", "phonemes", "plans", "chunks", "marks"}
    assert stats["underruns"] == 0 and stats["rtf"] < 1.0
