"""One thin actor per arrow of an utterance's graph.

Each actor owns its receive and send ends and closes both with a plain
``with receive, send:``: end of stream flows forward as ``EndOfChannel``,
a consumer that went away flows backward as ``BrokenResourceError``. The
logic lives in the sans-IO cores (the text pipeline, the synthesis steps,
the output core); actors only receive, call, and send. What an
utterance's actors share (statistics, failures, what was heard) is its
:class:`~streamtts.utterance_state.UtteranceState`; the messages are in
``messages.py``; the wiring is ``utterance.py``'s.
"""

from __future__ import annotations

import trio

from .backend import Backend
from .messages import AudioChunk, Mark, Planned, Prepared, Segment, TextPiece
from .output import Pacing, StartGate
from .sinks.base import Sink
from .synthesis import next_part_offset
from .utterance_state import UtteranceState

__all__ = [
    "HeadStartGate",
    "announce",
    "decode",
    "encode",
    "phonemize",
    "play",
    "segment_text",
]

# Longest stretch of text handed to the text pipeline at once (about 1 ms of work).
_SEGMENTER_SLICE_CHARS = 1000


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
    state: UtteranceState,
    stall_s: float,
) -> None:
    """Text pieces → (the utterance's text pipeline) → segments; a stalled
    stream speaks its whole words."""
    pipeline = state.pipeline
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
                await _send_segments(send, pipeline.stall(), state, last_handed)
                continue
            # A long text is fed a slice at a time, so its first sentence
            # goes out before the rest is split (an hour of text takes the
            # segmenter ~40 ms); the pipeline does not mind where pieces end.
            for start in range(0, len(piece.text), _SEGMENTER_SLICE_CHARS):
                segments = pipeline.feed(piece.text[start : start + _SEGMENTER_SLICE_CHARS])
                await _send_segments(send, segments, state, last_handed)
        await _send_segments(send, pipeline.end(), state, last_handed)


async def _send_segments(
    send: trio.MemorySendChannel[Segment],
    segments: list[Segment],
    state: UtteranceState,
    handed_at_s: float | None,
) -> None:
    for segment in segments:
        state.text_handed(handed_at_s)
        await state.send("segments", send, segment)


async def phonemize(
    receive: trio.MemoryReceiveChannel[Segment],
    send: trio.MemorySendChannel[Prepared],
    backend: Backend,
    gate: HeadStartGate,
    state: UtteranceState,
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
                state.failed(segment, err)
                continue
            for part in parts:
                await state.send("phonemes", send, part)
                parts_sent += 1


async def encode(
    receive: trio.MemoryReceiveChannel[Prepared],
    send: trio.MemorySendChannel[Planned],
    backend: Backend,
    gate: HeadStartGate,
    state: UtteranceState,
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
                state.failed(prepared.segment, err)
                gate.release(gate.hand_over())  # keep the count with the phonemizer's
                continue
            offset = next_part_offset(planned)
            gate.hand_over()
            await state.send("plans", send, planned)


async def decode(
    receive: trio.MemoryReceiveChannel[Planned],
    send: trio.MemorySendChannel[AudioChunk],
    backend: Backend,
    gate: HeadStartGate,
    head_start_s: float,
    state: UtteranceState,
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
                        state.failed(planned.segment, err)
                        break
                    decoded += chunk.samples.size
                    if decoded >= head_start_samples:
                        gate.release(plan_number)
                    await state.send("chunks", send, chunk)
            finally:
                gate.release(plan_number)


async def play(
    receive: trio.MemoryReceiveChannel[AudioChunk],
    marks: trio.MemorySendChannel[Mark],
    sink: Sink,
    state: UtteranceState,
    gate: StartGate,
    pace: Pacing,
) -> None:
    """Audio chunks → the sink, with gain and segment gaps; marks to announce.

    The first chunks wait until ``gate`` says the audio in hand covers
    making the next at the measured ``pace``: once playing, it must not
    break."""
    with receive, marks:
        waiting: list[AudioChunk] | None = []
        async for chunk in receive:
            if waiting is None:
                await _play_chunk(chunk, marks, sink, state)
                continue
            waiting.append(chunk)
            if gate.ready(waiting, pace, sink.held_back_s):
                for held in waiting:
                    await _play_chunk(held, marks, sink, state)
                waiting = None
        for held in waiting or ():  # everything is made: it all plays
            await _play_chunk(held, marks, sink, state)
        await sink.finish_utterance()
        sink.set_active(False)


async def _play_chunk(
    chunk: AudioChunk, marks: trio.MemorySendChannel[Mark], sink: Sink, state: UtteranceState
) -> None:
    output = state.output
    gap = output.gap_before(chunk)
    if gap is not None:
        await sink.write(gap)
    placed = output.place(chunk, sink.accepted)
    for mark in placed.marks:
        await state.send("marks", marks, mark)
    if placed.first_write:
        sink.set_active(True)
    if placed.samples.size:  # (a trimmed lead-in may leave nothing)
        await sink.write(placed.samples)
    output.written(placed, trio.current_time())


async def announce(
    receive: trio.MemoryReceiveChannel[Mark],
    sink: Sink,
    state: UtteranceState,
) -> None:
    """Each mark's event, once the sink has played its position."""
    with receive:
        async for mark in receive:
            await sink.wait_heard(mark.position + 1)
            state.heard(mark, trio.current_time())
