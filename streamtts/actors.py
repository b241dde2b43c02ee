"""One thin actor per arrow of the graph.

Each actor owns its receive and send ends and closes both with a plain
``with receive, send:``: end of stream flows forward as ``EndOfChannel``,
a consumer that went away flows backward as ``BrokenResourceError``. The
logic lives in the sans-IO cores (segmenter, incremental decoder, ring);
actors only receive, call, and send.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import trio

from .dsp import _kernels as kernels
from .events import SegmentFailed, SegmentStarted, UtteranceStats, WordStarted
from .messages import AudioChunk
from .sinks.base import Sink
from .text.segmenter import Segment, Segmenter

__all__ = [
    "TextPiece",
    "announce",
    "decode",
    "encode",
    "phonemize",
    "play",
    "segment_text",
]

_log = logging.getLogger(__name__)

# A sample at or below this (-60 dBFS) is silence for TTFA purposes.
AUDIBLE_THRESHOLD = 1e-3


# Longest stretch of text handed to the segmenter at once (about 1 ms of work).
_SEGMENTER_SLICE_CHARS = 1000


@dataclass(frozen=True)
class TextPiece:
    text: str
    handed_at_s: float  # when the caller gave it to the engine


class Meter:
    """Peak use of each bounded edge, sampled right after every send."""

    def __init__(self, stats: UtteranceStats) -> None:
        self.stats = stats

    async def send(self, name: str, channel: trio.MemorySendChannel[Any], item: object) -> None:
        await channel.send(item)
        used = channel.statistics().current_buffer_used
        peaks = self.stats.peak_buffers
        peaks[name] = max(peaks.get(name, 0), used)


@dataclass
class Clock:
    """When the text that completed the first segment was handed over."""

    first_segment_text_at_s: float | None = None


async def segment_text(
    receive: trio.MemoryReceiveChannel[TextPiece],
    send: trio.MemorySendChannel[Segment],
    segmenter: Segmenter,
    stall_s: float,
    meter: Meter,
    clock: Clock,
) -> None:
    """Text pieces → segments; a stalled stream flushes whole words."""
    with receive, send:
        last_handed = None
        while True:
            with trio.move_on_after(stall_s) as waiting:
                try:
                    piece = await receive.receive()
                except trio.EndOfChannel:
                    break
                last_handed = piece.handed_at_s
            if waiting.cancelled_caught:
                if segmenter.pending_chars:
                    for segment in segmenter.stall():
                        await _send_segment(send, segment, meter, clock, last_handed)
                continue
            # A long text is fed a slice at a time, so its first sentence
            # goes out before the rest is split (an hour of text takes the
            # segmenter ~40 ms); the segmenter does not mind where pieces end.
            for start in range(0, len(piece.text), _SEGMENTER_SLICE_CHARS):
                for segment in segmenter.feed(piece.text[start : start + _SEGMENTER_SLICE_CHARS]):
                    await _send_segment(send, segment, meter, clock, last_handed)
        for segment in segmenter.flush():
            await _send_segment(send, segment, meter, clock, last_handed)


async def _send_segment(
    send: trio.MemorySendChannel[Segment],
    segment: Segment,
    meter: Meter,
    clock: Clock,
    handed_at_s: float | None,
) -> None:
    if clock.first_segment_text_at_s is None and handed_at_s is not None:
        clock.first_segment_text_at_s = handed_at_s
    await meter.send("segments", send, segment)


class Failures:
    """Per-segment errors: reported as events, never the end of the stream.

    A segment that cannot be phonemized, encoded or decoded is skipped; the
    segments after it still play. Only cancellation stops an utterance.
    """

    def __init__(self, utterance: int, stats: UtteranceStats, emit: Any) -> None:
        self.utterance = utterance
        self.stats = stats
        self.emit = emit

    def report(self, segment: Segment, error: Exception) -> None:
        self.stats.failed_segments += 1
        _log.warning("skipping segment %d (%r): %r", segment.index, segment.text[:60], error)
        self.emit(SegmentFailed(self.utterance, segment.index, segment.text, repr(error)))


async def phonemize(
    receive: trio.MemoryReceiveChannel[Segment],
    send: trio.MemorySendChannel[Any],
    backend: Any,
    meter: Meter,
    failures: Failures,
) -> None:
    """Segments → phonemes and ids; segments with nothing to say vanish here."""
    with receive, send:
        async for segment in receive:
            try:
                parts = await backend.prepare(segment)
            except Exception as err:
                failures.report(segment, err)
                continue
            for part in parts:
                await meter.send("phonemes", send, part)


async def encode(
    receive: trio.MemoryReceiveChannel[Any],
    send: trio.MemorySendChannel[tuple[Any, trio.Event]],
    backend: Any,
    rng: np.random.Generator,
    meter: Meter,
    failures: Failures,
) -> None:
    """Phonemes → frame plans (encoder, duration predictor, prior sample).

    Each plan travels with an event its decoder sets once it has a head
    start (see :func:`decode`); the next plan is encoded only then, so the
    encoder never takes the cores from a segment's first, latency-critical
    chunks (on a busy machine that gap was an audible underrun).
    """
    with receive, send:
        head_start: trio.Event | None = None
        async for prepared in receive:
            if head_start is not None:
                await head_start.wait()
            try:
                planned = await backend.encode(prepared, rng)
            except Exception as err:
                failures.report(prepared.segment, err)
                continue
            head_start = trio.Event()
            await meter.send("plans", send, (planned, head_start))


async def decode(
    receive: trio.MemoryReceiveChannel[tuple[Any, trio.Event]],
    send: trio.MemorySendChannel[tuple[Segment, AudioChunk]],
    backend: Any,
    head_start_s: float,
    meter: Meter,
    failures: Failures,
) -> None:
    """Frame plans → audio chunks, small first, in order.

    Sets a plan's head-start event once ``head_start_s`` of its audio is
    decoded (or all of it): from then on the next segment may be encoded.
    """
    head_start_samples = head_start_s * backend.sample_rate_hz
    with receive, send:
        async for planned, head_start in receive:
            decoded = 0
            try:
                source = backend.chunks(planned)
                while not source.done:
                    try:
                        chunk = await backend.next_chunk(source)
                    except Exception as err:  # the rest of this segment is lost, not the stream
                        failures.report(planned.segment, err)
                        break
                    decoded += chunk.samples.size
                    if decoded >= head_start_samples:
                        head_start.set()
                    await meter.send("chunks", send, (planned.segment, chunk))
            finally:
                head_start.set()


@dataclass(frozen=True)
class Mark:
    """Something to announce once the sink has played ``position``."""

    position: int
    event: SegmentStarted | WordStarted | None  # None: the first audible sample


async def play(
    receive: trio.MemoryReceiveChannel[tuple[Segment, AudioChunk]],
    marks: trio.MemorySendChannel[Mark],
    sink: Sink,
    voice_rate_hz: int,
    gain: float,
    gap_s: float,
    utterance: int,
    stats: UtteranceStats,
    clock: Clock,
    meter: Meter,
) -> None:
    """Audio chunks → the sink, with gain and segment gaps; marks for events."""
    ratio = sink.sample_rate_hz / voice_rate_hz
    gap = np.zeros(int(gap_s * voice_rate_hz), dtype=np.float32)
    current_segment = -1
    segment_origin = 0  # sink position of the current segment's first sample
    heard_first = False
    audible_at = -1
    with receive, marks:
        async for segment, chunk in receive:
            if chunk.segment_index != current_segment:
                if current_segment >= 0 and gap.size:
                    await sink.write(gap)
                current_segment = chunk.segment_index
                segment_origin = sink.accepted
                stats.segments += 1
                started = SegmentStarted(
                    utterance, segment.index, segment.text, segment.start, math.nan
                )
                await meter.send("marks", marks, Mark(segment_origin, started))
            samples = chunk.samples
            if gain != 1.0:
                samples = samples.copy()
                kernels.apply_gain_ramps(samples, gain, 0, 0)
            position = sink.accepted
            if not heard_first:
                audible_at = int(kernels.first_audible(samples, AUDIBLE_THRESHOLD))
                if audible_at >= 0:
                    mark = Mark(position + round(audible_at * ratio), None)
                    await meter.send("marks", marks, mark)
            for word in chunk.marks:
                event = WordStarted(
                    utterance,
                    segment.index,
                    word.text,
                    segment.start + word.text_start,
                    segment.start + word.text_end,
                    math.nan,
                )
                mark = Mark(segment_origin + round(word.start_sample * ratio), event)
                await meter.send("marks", marks, mark)
            if not heard_first and stats.audio_s == 0.0:
                sink.set_active(True)
            await sink.write(samples)
            stats.audio_s += samples.size / voice_rate_hz
            if not heard_first and audible_at >= 0:
                heard_first = True
                stats.first_audio_written_at_s = trio.current_time()
                if clock.first_segment_text_at_s is not None:
                    stats.ttfa_s = trio.current_time() - clock.first_segment_text_at_s
        await sink.finish_utterance()
        sink.set_active(False)


async def announce(
    receive: trio.MemoryReceiveChannel[Mark],
    sink: Sink,
    emit: Any,
    stats: UtteranceStats,
    clock: Clock,
    heard: dict[str, Any],
) -> None:
    """Fire each mark's event when the sink has played its position."""
    with receive:
        async for mark in receive:
            await sink.wait_heard(mark.position + 1)
            now = trio.current_time()
            if mark.event is None:
                if clock.first_segment_text_at_s is not None:
                    stats.ttfa_heard_s = now - clock.first_segment_text_at_s
                continue
            event = replace(mark.event, at_s=now)
            heard["word" if isinstance(event, WordStarted) else "segment"] = event
            emit(event)
