"""One utterance: one object, one lifetime, its own state and tasks.

::

    caller ─TextPiece─► segment_text ─Segment─► phonemize ─Prepared─► encode
          ─Planned─► decode ─AudioChunk─► play ─► sink
                                           │
                              announce ◄─Mark┘

An :class:`Utterance` is started with trio's nursery start protocol
(``utterance = await nursery.start(engine.utterance, ...)``) and is its
own handle: feed it (``send``, ``flush``), ``end`` its text,
``interrupt`` it, ``wait`` for its result. Its text waits in a bounded
channel until its turn; the engine gives turns in order. In its turn it
wires the graph above, every arrow a bounded memory channel (sizes in
:class:`~streamtts.config.ChannelSizes`), and runs until everything is
heard or it is interrupted. Its errors stay its own: ``wait`` raises the
exact one (bad input, a client gone, a device, a fault), never the
engine's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

import trio

from . import actors
from .backend import Backend
from .config import EngineOptions
from .dsp.levels import PeakLimiter, stream_ceiling
from .errors import StreamTTSError, caller_error
from .events import Event, Interrupted, UtteranceDone, UtteranceStats
from .messages import AudioChunk, Mark, Planned, Prepared, Segment, TextPiece
from .output import OutputCore, StartGate
from .sinks.base import Sink
from .text.frontend import FrontEnd
from .text.options import TextOptions
from .text.pipeline import TextPipeline
from .text.segmenter import Segmenter
from .utterance_state import UtteranceResult, UtteranceState

__all__ = ["Stage", "Utterance"]


class Stage(Protocol):
    """What an utterance needs of its engine (the engine is one)."""

    backend: Backend
    sink: Sink
    options: EngineOptions
    loudness_gain: float  # calibrated for options.loudness_lufs (1.0 without)

    def emit(self, event: Event) -> None: ...

    def turn(self, utterance: Utterance) -> contextlib.AbstractAsyncContextManager[int]: ...

    def record(self, stats: UtteranceStats) -> None: ...


class Utterance:
    """See the module docstring. Made by :meth:`Engine.utterance`."""

    def __init__(
        self,
        stage: Stage,
        text_options: TextOptions,
        rate: float = 1.0,
        on_turn: Callable[[], None] | None = None,
        delivery: str | None = None,
    ) -> None:
        self._stage = stage
        self.text_options = text_options
        self.rate = rate
        self.delivery = delivery  # None: the engine's synthesis options say
        self._on_turn = on_turn
        size = stage.options.channels.text_pieces
        self._text_send, self._text_receive = trio.open_memory_channel[TextPiece](size)
        self._scope: trio.CancelScope | None = None  # while it speaks
        self._stop_asked_at: float | None = None
        self._finished = trio.Event()
        self.number: int | None = None  # given when its turn comes
        self.result: UtteranceResult | None = None
        self.error: StreamTTSError | None = None

    def __repr__(self) -> str:
        state = "finished" if self._finished.is_set() else "speaking" if self._scope else "waiting"
        return f"Utterance(#{self.number}, {state})"

    # -- the handle ------------------------------------------------------------------------

    async def send(self, piece: str) -> None:
        """Feed text; waits while the engine is full (backpressure). Text
        after an interrupt or the end is dropped."""
        if not isinstance(piece, str):
            raise TypeError(f"text pieces must be str, got {type(piece).__name__}")
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._text_send.send(TextPiece(piece, trio.current_time()))

    async def flush(self) -> None:
        """Speak the whole words sent so far now, without waiting for the
        sentence to end (as a pause in the stream would)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._text_send.send(TextPiece("", trio.current_time(), flush=True))

    def end(self) -> None:
        """The text is complete; what was sent is spoken to its end."""
        self._text_send.close()

    async def interrupt(self) -> None:
        """Stop now, wherever it is (or before its turn comes); returns once
        the sink has dropped its audio."""
        if self._finished.is_set():
            return
        if self._stop_asked_at is None:
            self._stop_asked_at = trio.current_time()
        self._text_send.close()
        if self._scope is not None:
            self._scope.cancel()
        with trio.move_on_after(5.0):
            await self._finished.wait()

    async def wait(self) -> UtteranceResult:
        """How it ended; raises the exact error if it failed."""
        await self._finished.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    # -- its life ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Wait for its turn, speak, record. Failures are kept for
        :meth:`wait`; only cancellation from outside propagates."""
        stage = self._stage
        try:
            async with stage.turn(self) as number:
                self.number = number
                if self._on_turn is not None:
                    self._on_turn()
                self.result = await self._speak(number)
        except Exception as err:
            error = caller_error(err)
            self.error = error if isinstance(error, StreamTTSError) else StreamTTSError(repr(error))
        finally:
            self._text_receive.close()
            self._finished.set()

    async def _speak(self, number: int) -> UtteranceResult:
        stage = self._stage
        sink, options = stage.sink, stage.options
        rate_hz = stage.backend.sample_rate_hz
        limiter = None
        if options.loudness_lufs is not None:
            limiter = PeakLimiter(stream_ceiling(options.true_peak_dbtp), rate_hz)
        output = OutputCore(
            number,
            rate_hz,
            sink.sample_rate_hz or rate_hz,
            options.gain * stage.loudness_gain,
            options.sentence_gap_s,
            options.trim_lead_in,
            limiter,
        )
        pipeline = TextPipeline(
            FrontEnd(self.text_options),
            Segmenter(options.segmenter),
            rate=self.rate,
            delivery=self.delivery,
        )
        state = UtteranceState(number, pipeline, output, stage.emit)
        self._compute_before = stage.backend.compute_s
        self._underruns_before = sink.underruns
        interrupted = self._stop_asked_at is not None
        if not interrupted:
            interrupted = await self._play(state)
        stats = state.stats
        if interrupted:
            stats.cancel_latency_s = (
                trio.current_time() - (self._stop_asked_at or trio.current_time()) + sink.latency_s
            )
        stats.compute_s = stage.backend.compute_s - self._compute_before
        stats.underruns = sink.underruns - self._underruns_before
        result = state.result(interrupted)
        stage.record(stats)
        if interrupted:
            stage.emit(Interrupted(number, result.last_segment, result.last_word, stats))
        else:
            stage.emit(UtteranceDone(number, stats))
        if stats.failed_segments and stats.audio_s == 0.0 and not interrupted:
            raise StreamTTSError(
                f"no segment of the text could be spoken ({stats.failed_segments} failed; "
                "see the SegmentFailed events or the log for why)"
            )
        return result

    async def _play(self, state: UtteranceState) -> bool:
        """Run the graph until everything is heard; True if interrupted."""
        sink = self._stage.sink
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                if self._stop_asked_at is not None:  # asked while its turn was coming
                    scope.cancel()
                await self._graph(state)
                await sink.drain()
                state.all_heard(trio.current_time())
        except BaseException:
            with trio.CancelScope(shield=True):
                sink.set_active(False)
                await sink.interrupt()
            raise
        finally:
            self._scope = None
        if scope.cancelled_caught:
            with trio.CancelScope(shield=True):
                await sink.interrupt()
        return scope.cancelled_caught

    async def _graph(self, state: UtteranceState) -> None:
        stage = self._stage
        backend, sink, options = stage.backend, stage.sink, stage.options
        sizes = options.channels
        seg_send, seg_receive = trio.open_memory_channel[Segment](sizes.segments)
        pho_send, pho_receive = trio.open_memory_channel[Prepared](sizes.phonemes)
        plan_send, plan_receive = trio.open_memory_channel[Planned](sizes.plans)
        chunk_send, chunk_receive = trio.open_memory_channel[AudioChunk](sizes.chunks)
        mark_send, mark_receive = trio.open_memory_channel[Mark](sizes.marks)
        gate = actors.HeadStartGate()
        text = self._text_receive.clone()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actors.segment_text, text, seg_send, state, options.stall_s)
            nursery.start_soon(actors.phonemize, seg_receive, pho_send, backend, gate, state)
            nursery.start_soon(actors.encode, pho_receive, plan_send, backend, gate, state)
            head_start_s = options.decoder_head_start_s
            nursery.start_soon(
                actors.decode, plan_receive, chunk_send, backend, gate, head_start_s, state
            )
            start = StartGate(backend.sample_rate_hz, options.start_margin, options.trim_lead_in)
            nursery.start_soon(
                actors.play, chunk_receive, mark_send, sink, state, start, backend.pace
            )
            nursery.start_soon(actors.announce, mark_receive, sink, state)
