"""One thin actor per arrow of the graph.

Each actor owns its receive and send ends and closes both with a plain
``with receive, send:``: end of stream flows forward as ``EndOfChannel``,
a consumer that went away flows backward as ``BrokenResourceError``. The
logic lives in the sans-IO cores (segmenter, synthesis core, output core);
actors only receive, call, and send. The messages are in ``messages.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import trio

from .backend import Backend
from .events import (
    Event,
    MarkReached,
    SegmentFailed,
    SegmentStarted,
    UtteranceStats,
    WordStarted,
)
from .messages import AudioChunk, Mark, Planned, Prepared, Segment, TextPiece
from .output import OutputCore
from .sinks.base import Sink
from .synthesis import next_part_offset
from .text.frontend import FrontEnd
from .text.offsets import Offsets
from .text.pipeline import TextPipeline
from .text.segmenter import Segmenter

__all__ = [
    "Clock",
    "Failures",
    "HeadStartGate",
    "Heard",
    "Meter",
    "announce",
    "decode",
    "encode",
    "phonemize",
    "play",
    "segment_text",
]

_log = logging.getLogger(__name__)

T = TypeVar("T")

# Longest stretch of text handed to the segmenter at once (about 1 ms of work).
_SEGMENTER_SLICE_CHARS = 1000


class Meter:
    """Peak use of each bounded edge, sampled right after every send."""

    def __init__(self, stats: UtteranceStats) -> None:
        self.stats = stats

    async def send(self, name: str, channel: trio.MemorySendChannel[T], item: T) -> None:
        await channel.send(item)
        used = channel.statistics().current_buffer_used
        peaks = self.stats.peak_buffers
        peaks[name] = max(peaks.get(name, 0), used)


@dataclass
class Clock:
    """When the text that completed the first segment was handed over."""

    first_segment_text_at_s: float | None = None


@dataclass
class Heard:
    """The last segment and word heard in an utterance (for its result)."""

    segment: SegmentStarted | None = None
    word: WordStarted | None = None


class HeadStartGate:
    """Lets the encoder start the next segment only once the decoder has a
    head start on the one before.

    A segment's first chunks must come out faster than they play (the
    first, 93 ms of audio, leaves that long for the second); an encoder
    run beside them halves their share of the cores. Made when the graph
    is wired and shared by the encode and decode actors, which both count
    plans in channel order: the encoder hands plan n over, the decoder
    releases plan n; the encoder waits until every plan it handed over is
    released.
    """

    def __init__(self) -> None:
        self._handed = 0
        self._released = 0
        self._changed = trio.Event()

    def hand_over(self) -> int:
        """The encoder made a plan; returns its number (1, 2, ...)."""
        self._handed += 1
        return self._handed

    def release(self, plan_number: int) -> None:
        """The decoder has its head start on plan ``plan_number`` (or is done)."""
        if plan_number > self._released:
            self._released = plan_number
            self._changed.set()
            self._changed = trio.Event()

    async def wait_open(self) -> None:
        """Until every plan handed over is released (the encoder's wait)."""
        await self.wait_released(self._handed)

    async def wait_released(self, plan_number: int) -> None:
        """Until plan ``plan_number`` is released (the phonemizer's wait)."""
        while self._released < plan_number:
            await self._changed.wait()


async def segment_text(
    receive: trio.MemoryReceiveChannel[TextPiece],
    send: trio.MemorySendChannel[Segment],
    frontend: FrontEnd,
    segmenter: Segmenter,
    stall_s: float,
    meter: Meter,
    clock: Clock,
) -> None:
    """Text pieces → (the text pipeline: ``frontend``, then ``segmenter``)
    → segments; a stalled stream flushes whole words."""
    pipeline = TextPipeline(frontend, segmenter)
    with receive, send:
        last_handed = None
        while True:
            piece: TextPiece | None = None
            with trio.move_on_after(stall_s):
                try:
                    piece = await receive.receive()
                except trio.EndOfChannel:
                    break
                last_handed = piece.handed_at_s
            if piece is None or piece.flush:  # a stall, or the caller asked
                await _send_segments(send, pipeline.stall(), meter, clock, last_handed)
                continue
            # A long text is fed a slice at a time, so its first sentence
            # goes out before the rest is split (an hour of text takes the
            # segmenter ~40 ms); the pipeline does not mind where pieces end.
            for start in range(0, len(piece.text), _SEGMENTER_SLICE_CHARS):
                segments = pipeline.feed(piece.text[start : start + _SEGMENTER_SLICE_CHARS])
                await _send_segments(send, segments, meter, clock, last_handed)
        await _send_segments(send, pipeline.end(), meter, clock, last_handed)


async def _send_segments(
    send: trio.MemorySendChannel[Segment],
    segments: list[Segment],
    meter: Meter,
    clock: Clock,
    handed_at_s: float | None,
) -> None:
    for segment in segments:
        if clock.first_segment_text_at_s is None and handed_at_s is not None:
            clock.first_segment_text_at_s = handed_at_s
        await meter.send("segments", send, segment)


class Failures:
    """Per-segment errors: reported as events, never the end of the stream.

    A segment that cannot be phonemized, encoded or decoded is skipped; the
    segments after it still play. Only cancellation stops an utterance.
    """

    def __init__(
        self, utterance: int, stats: UtteranceStats, emit: Callable[[Event], None]
    ) -> None:
        self.utterance = utterance
        self.stats = stats
        self.emit = emit

    def report(self, segment: Segment, error: Exception) -> None:
        self.stats.failed_segments += 1
        _log.warning("skipping segment %d (%r): %r", segment.index, segment.text[:60], error)
        self.emit(SegmentFailed(self.utterance, segment.index, segment.text, repr(error)))


async def phonemize(
    receive: trio.MemoryReceiveChannel[Segment],
    send: trio.MemorySendChannel[Prepared],
    backend: Backend,
    gate: HeadStartGate,
    meter: Meter,
    failures: Failures,
) -> None:
    """Segments → phonemes and ids; segments with nothing to say vanish here.

    Like the encoder, the phonemizer keeps off the cores while a segment's
    first chunks are made: it prepares the next segment once the decoder
    has its head start on the last part it prepared (espeak-ng's word pass
    takes milliseconds; beside a first chunk it cost 12 ms of TTFA on
    paragraphs).
    """
    with receive, send:
        parts_sent = 0
        async for segment in receive:
            await gate.wait_released(parts_sent)
            try:
                parts = await backend.prepare(segment)
            except Exception as err:
                failures.report(segment, err)
                continue
            for part in parts:
                await meter.send("phonemes", send, part)
                parts_sent += 1


async def encode(
    receive: trio.MemoryReceiveChannel[Prepared],
    send: trio.MemorySendChannel[Planned],
    backend: Backend,
    gate: HeadStartGate,
    meter: Meter,
    failures: Failures,
) -> None:
    """Phonemes → plans (encoder, duration predictor, prior sample), each
    only once the decoder has a head start on the one before."""
    rng = backend.new_rng()
    with receive, send:
        offset = 0  # where the next part starts in its segment
        async for prepared in receive:
            await gate.wait_open()
            try:
                planned = await backend.encode(prepared, rng, offset if prepared.part else 0)
            except Exception as err:
                failures.report(prepared.segment, err)
                gate.release(gate.hand_over())  # keep the count with the phonemizer's
                continue
            offset = next_part_offset(planned)
            gate.hand_over()
            await meter.send("plans", send, planned)


async def decode(
    receive: trio.MemoryReceiveChannel[Planned],
    send: trio.MemorySendChannel[AudioChunk],
    backend: Backend,
    gate: HeadStartGate,
    head_start_s: float,
    meter: Meter,
    failures: Failures,
) -> None:
    """Plans → audio chunks, small first, in order; opens the gate once
    ``head_start_s`` of a plan's audio is decoded (or all of it)."""
    head_start_samples = head_start_s * backend.sample_rate_hz
    with receive, send:
        plan_number = 0
        async for planned in receive:
            plan_number += 1
            decoded = 0
            try:
                while not planned.source.done:
                    try:
                        chunk = await backend.next_chunk(planned)
                    except Exception as err:  # the rest of this segment is lost, not the stream
                        failures.report(planned.segment, err)
                        break
                    decoded += chunk.samples.size
                    if decoded >= head_start_samples:
                        gate.release(plan_number)
                    await meter.send("chunks", send, chunk)
            finally:
                gate.release(plan_number)


async def play(
    receive: trio.MemoryReceiveChannel[AudioChunk],
    marks: trio.MemorySendChannel[Mark],
    sink: Sink,
    output: OutputCore,
    meter: Meter,
) -> None:
    """Audio chunks → the sink, with gain and segment gaps; marks for events."""
    with receive, marks:
        async for chunk in receive:
            gap = output.gap_before(chunk)
            if gap is not None:
                await sink.write(gap)
            placed = output.place(chunk, sink.accepted)
            for mark in placed.marks:
                await meter.send("marks", marks, mark)
            if placed.first_write:
                sink.set_active(True)
            if placed.samples.size:  # (a trimmed lead-in may leave nothing)
                await sink.write(placed.samples)
            output.written(placed, trio.current_time())
        await sink.finish_utterance()
        sink.set_active(False)


class SsmlMarks:
    """SSML marks, fired when the audio at their place is heard: just
    before the first word after them starts, or, after the last word, once
    the utterance has all been heard."""

    def __init__(
        self, marks: list[tuple[int, str]], utterance: int, emit: Callable[[Event], None]
    ) -> None:
        self.marks = marks  # (offset in the front end's output, name); grows as text comes
        self.utterance = utterance
        self.emit = emit
        self.fired = 0

    def reached(self, clean_offset: int, now: float) -> None:
        while self.fired < len(self.marks) and self.marks[self.fired][0] <= clean_offset:
            self.emit(MarkReached(self.utterance, self.marks[self.fired][1], now))
            self.fired += 1

    def all_heard(self, now: float) -> None:
        self.reached(1 << 62, now)


async def announce(
    receive: trio.MemoryReceiveChannel[Mark],
    sink: Sink,
    emit: Callable[[Event], None],
    offsets: Offsets,
    marks: SsmlMarks,
    stats: UtteranceStats,
    clock: Clock,
    heard: Heard,
) -> None:
    """Fire each mark's event when the sink has played its position, with
    its offsets moved back into the caller's text (``offsets``)."""
    with receive:
        async for mark in receive:
            await sink.wait_heard(mark.position + 1)
            now = trio.current_time()
            if mark.event is None:
                if clock.first_segment_text_at_s is not None:
                    stats.ttfa_heard_s = now - clock.first_segment_text_at_s
                continue
            if isinstance(mark.event, WordStarted):
                word = mark.event
                marks.reached(word.text_start, now)
                heard.word = replace(
                    word,
                    at_s=now,
                    text_start=offsets.start(word.text_start),
                    text_end=offsets.end(word.text_end),
                )
                emit(heard.word)
            else:
                segment = mark.event
                heard.segment = replace(
                    segment, at_s=now, text_start=offsets.start(segment.text_start)
                )
                emit(heard.segment)
