"""The engine: the only place that wires the actor graph.

::

    caller ─TextPiece─► segment_text ─Segment─► phonemize ─Prepared─► encode
          ─Planned─► decode ─AudioChunk─► play ─► sink
                                           │
                              announce ◄─Mark┘

Every arrow is a bounded memory channel (sizes in :class:`ChannelSizes`);
the sink's ``write`` waits when it is full, and so, edge by edge, does
everything back to the caller's ``send``. One utterance runs at a time;
:meth:`Engine.interrupt` cancels the current one wherever it is.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import trio

from . import actors
from .backend import Backend
from .config import EngineOptions
from .errors import ConfigError, StreamTTSError
from .events import Event, Interrupted, SegmentStarted, UtteranceDone, UtteranceStats, WordStarted
from .messages import AudioChunk, Mark, Planned, Prepared, Segment, TextPiece
from .output import OutputCore
from .sinks.base import Sink
from .text import reading
from .text.frontend import FrontEnd, TextOptions
from .text.segmenter import Segmenter, SegmenterOptions

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["Engine", "TextStream", "UtteranceResult", "open_engine"]

# Names made for the listener already: read exactly as given.
_AS_WRITTEN = TextOptions(normalize=False)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UtteranceResult:
    """How an utterance ended. ``interrupted`` results say what was heard last."""

    utterance: int
    interrupted: bool
    stats: UtteranceStats
    last_segment: SegmentStarted | None = None
    last_word: WordStarted | None = None


class TextStream:
    """Feed one utterance piece by piece (an LLM's tokens, caption lines).

    ``send`` waits when the engine is full (backpressure). Leaving the
    ``async with engine.stream()`` block ends the text and waits until it
    has been spoken; ``result`` then says how it ended.
    """

    def __init__(self, send: trio.MemorySendChannel[TextPiece]) -> None:
        self._send = send
        self.result: UtteranceResult | None = None
        self.error: BaseException | None = None

    async def send(self, piece: str) -> None:
        if not isinstance(piece, str):
            raise TypeError(f"text pieces must be str, got {type(piece).__name__}")
        # After an interrupt the utterance is over: the rest of its text is dropped.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._send.send(TextPiece(piece, trio.current_time()))

    async def flush(self) -> None:
        """Speak the whole words sent so far now, without waiting for the
        sentence to end (as a pause in the stream would)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._send.send(TextPiece("", trio.current_time(), flush=True))


class Engine:
    """Speaks utterances one after another. Make one with :func:`open_engine`.

    All methods must be called from the trio run that opened the engine.
    """

    def __init__(
        self,
        backend: Backend,
        sink: Sink,
        options: EngineOptions,
        nursery: trio.Nursery,
        on_event: Callable[[Event], None] | None,
    ) -> None:
        self.backend = backend
        self.sink = sink
        self.options = options
        self._nursery = nursery
        self._on_event = on_event
        self._turn = trio.Lock()
        self._current: trio.CancelScope | None = None
        self._stopped = trio.Event()  # set when the current utterance has ended
        self._interrupted_at: float | None = None
        self._count = 0
        self._closing = trio.Event()
        self.history: list[UtteranceStats] = []

    @property
    def segmenter_options(self) -> SegmenterOptions:
        return self.options.segmenter

    # -- public API ------------------------------------------------------------

    async def say(self, text: str, *, text_options: TextOptions | None = None) -> UtteranceResult:
        """Speak ``text`` and return once it has been heard (or interrupted).

        ``text_options`` (format, markdown's code blocks and tables, emoji)
        replace the engine's ``options.text`` for this utterance."""
        async with self.stream(text_options=text_options) as stream:
            await stream.send(text)
        if stream.result is None:  # the engine was closed or cancelled under it
            await trio.lowlevel.checkpoint()  # a cancelled caller gets its Cancelled
            raise StreamTTSError("the engine closed before the utterance ended")
        return stream.result

    async def say_character(self, char: str) -> UtteranceResult:
        """One character as a screen reader says it: "a", "cap B", "dollar"."""
        return await self.say(reading.say_character(char), text_options=_AS_WRITTEN)

    async def say_key(self, key: str) -> UtteranceResult:
        """A key or combination by name: "ctrl+c" is "control c"."""
        return await self.say(reading.say_key(key), text_options=_AS_WRITTEN)

    @asynccontextmanager
    async def stream(self, *, text_options: TextOptions | None = None) -> AsyncIterator[TextStream]:
        """One utterance from text pieces; see :class:`TextStream`."""
        size = self.options.channels.text_pieces
        send, receive = trio.open_memory_channel[TextPiece](size)
        done = trio.Event()
        stream = TextStream(send)

        async def run() -> None:
            try:
                stream.result = await self._utterance(receive, text_options or self.options.text)
            except Exception as err:  # reported to the caller; the engine lives on
                stream.error = err
            finally:
                done.set()

        self._nursery.start_soon(run)
        try:
            with send:
                yield stream
        finally:
            with trio.CancelScope(shield=True):
                await done.wait()
        if stream.error is not None:
            error = _single(stream.error)
            if isinstance(error, StreamTTSError):
                raise error
            raise StreamTTSError(
                f"speaking failed: {error!r}; the engine is still usable"
            ) from error

    async def interrupt(self) -> None:
        """Barge-in: stop the current utterance now, fade out, drop its audio.

        Returns once the sink has dropped the queued audio. The engine is
        ready for the next utterance; queued ones still play.
        """
        if self._current is not None:
            self._interrupted_at = trio.current_time()
            stopped = self._stopped
            self._current.cancel()
            with trio.move_on_after(5.0):
                await stopped.wait()

    def statistics(self) -> dict[str, Any]:
        """Totals and the last utterance's numbers (a JSON-friendly dict)."""
        last = self.history[-1].as_dict() if self.history else {}
        audio = sum(s.audio_s for s in self.history)
        compute = sum(s.compute_s for s in self.history)
        peaks: dict[str, int] = {}
        for s in self.history:
            for name, value in s.peak_buffers.items():
                peaks[name] = max(peaks.get(name, 0), value)
        ttfas = [s.ttfa_s for s in self.history if s.ttfa_s is not None]
        return {
            "utterances": len(self.history),
            "ttfa_s": ttfas[0] if ttfas else None,
            "ttfa_heard_s": next(
                (s.ttfa_heard_s for s in self.history if s.ttfa_heard_s is not None), None
            ),
            "rtf": compute / audio if audio else None,
            "audio_s": audio,
            "compute_s": compute,
            "underruns": self.sink.underruns,
            "peak_buffers": peaks,
            "buffer_sizes": self.buffer_sizes(),
            "cancel_latency_s": next(
                (s.cancel_latency_s for s in reversed(self.history) if s.cancel_latency_s), None
            ),
            "last": last,
        }

    def buffer_sizes(self) -> dict[str, int]:
        sizes = dict(self.options.channels.__dict__)
        sizes.pop("text_pieces")
        return sizes

    # -- one utterance -----------------------------------------------------------

    async def _utterance(
        self, text: trio.MemoryReceiveChannel[TextPiece], text_options: TextOptions
    ) -> UtteranceResult:
        async with self._turn:
            self._count += 1
            number = self._count
            stats = UtteranceStats(number)
            heard = actors.Heard()
            compute_before = self.backend.compute_s
            underruns_before = self.sink.underruns
            output = OutputCore(
                number,
                self.backend.sample_rate_hz,
                self.sink.sample_rate_hz or self.backend.sample_rate_hz,
                self.options.gain,
                self.options.sentence_gap_s,
                self.options.trim_lead_in,
            )
            clock = actors.Clock()
            frontend = FrontEnd(text_options)
            marks = actors.SsmlMarks(frontend.marks, number, self._emit)
            try:
                with trio.CancelScope() as scope:
                    self._current = scope
                    self._stopped = trio.Event()
                    self._interrupted_at = None
                    await self._graph(text, frontend, marks, number, stats, heard, output, clock)
                    await self.sink.drain()
                    marks.all_heard(trio.current_time())
            except BaseException:
                with trio.CancelScope(shield=True):
                    self.sink.set_active(False)
                    await self.sink.interrupt()
                self._current = None
                self._stopped.set()
                text.close()
                raise
            interrupted = scope.cancelled_caught
            if interrupted:
                with trio.CancelScope(shield=True):
                    await self.sink.interrupt()
                    if self._interrupted_at is not None:
                        stats.cancel_latency_s = (
                            trio.current_time() - self._interrupted_at + self.sink.latency_s
                        )
            text.close()
            self._current = None
            self._stopped.set()
            _record_output(stats, output, clock)
            stats.compute_s = self.backend.compute_s - compute_before
            stats.underruns = self.sink.underruns - underruns_before
            self.history.append(stats)
            if len(self.history) > 100:
                del self.history[0]
            result = UtteranceResult(number, interrupted, stats, heard.segment, heard.word)
            if interrupted:
                self._emit(Interrupted(number, result.last_segment, result.last_word, stats))
            else:
                self._emit(UtteranceDone(number, stats))
            if stats.failed_segments and stats.audio_s == 0.0 and not interrupted:
                raise StreamTTSError(
                    f"no segment of the text could be spoken ({stats.failed_segments} failed; "
                    "see the SegmentFailed events or the log for why)"
                )
            return result

    async def _graph(
        self,
        text: trio.MemoryReceiveChannel[TextPiece],
        frontend: FrontEnd,
        marks: actors.SsmlMarks,
        number: int,
        stats: UtteranceStats,
        heard: actors.Heard,
        output: OutputCore,
        clock: actors.Clock,
    ) -> None:
        sizes = self.options.channels
        meter = actors.Meter(stats)
        seg_send, seg_receive = trio.open_memory_channel[Segment](sizes.segments)
        pho_send, pho_receive = trio.open_memory_channel[Prepared](sizes.phonemes)
        plan_send, plan_receive = trio.open_memory_channel[Planned](sizes.plans)
        chunk_send, chunk_receive = trio.open_memory_channel[AudioChunk](sizes.chunks)
        mark_send, mark_receive = trio.open_memory_channel[Mark](sizes.marks)
        segmenter = Segmenter(self.options.segmenter)
        gate = actors.HeadStartGate()
        failures = actors.Failures(number, stats, self._emit)
        backend = self.backend
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                actors.segment_text,
                text.clone(),
                seg_send,
                frontend,
                segmenter,
                self.options.stall_s,
                meter,
                clock,
            )
            nursery.start_soon(
                actors.phonemize, seg_receive, pho_send, backend, gate, meter, failures
            )
            nursery.start_soon(
                actors.encode, pho_receive, plan_send, backend, gate, meter, failures
            )
            nursery.start_soon(
                actors.decode,
                plan_receive,
                chunk_send,
                backend,
                gate,
                self.options.decoder_head_start_s,
                meter,
                failures,
            )
            nursery.start_soon(actors.play, chunk_receive, mark_send, self.sink, output, meter)
            nursery.start_soon(
                actors.announce,
                mark_receive,
                self.sink,
                self._emit,
                frontend.offsets,
                marks,
                stats,
                clock,
                heard,
            )

    def _emit(self, event: Event) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a caller's bug must not stop the speech
            _log.exception("the on_event callback raised")


def _record_output(stats: UtteranceStats, output: OutputCore, clock: actors.Clock) -> None:
    """The output stage's measurements, into the utterance's statistics."""
    measured = output.measured
    stats.segments = measured.segments
    stats.audio_s = measured.audio_s
    stats.first_audio_written_at_s = measured.first_audio_written_at_s
    if measured.first_audio_written_at_s is not None and clock.first_segment_text_at_s is not None:
        stats.ttfa_s = measured.first_audio_written_at_s - clock.first_segment_text_at_s


def _single(error: BaseException) -> BaseException:
    """The one real error inside nested single-member exception groups."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@asynccontextmanager
async def open_engine(
    voice: Any = None,
    sink: Sink | None = None,
    *,
    options: EngineOptions | None = None,
    segmenter_options: SegmenterOptions | None = None,
    on_event: Callable[[Event], None] | None = None,
    backend: Backend | None = None,
) -> AsyncIterator[Engine]:
    """Open an engine; it is ready (model loaded and warmed up, kernels
    compiled, sink open) when the ``async with`` body starts.

    - ``voice``: a loaded :class:`~streamtts.PiperVoice`, a path, an
      installed voice's name, or None for the default voice.
    - ``sink``: where audio goes; None for the sound card.
    - ``options``: everything else (:class:`~streamtts.EngineOptions`:
      synthesis, segmenter, chunk schedule, whole or streaming, gain, fade).
      ``segmenter_options`` replaces ``options.segmenter`` when given.
    - ``on_event``: called in the event loop with each
      :class:`~streamtts.events.Event` as it happens (words when heard).
    - ``backend``: replaces the voice entirely (any
      :class:`~streamtts.backend.Backend`, e.g. ``streamtts.testing``'s).

    Leaving the block waits for the current utterance to be heard.
    Cancelling it stops everything at once.
    """
    options = options or EngineOptions()
    if segmenter_options is not None:
        options = replace(options, segmenter=segmenter_options)
    async with trio.open_nursery() as nursery:
        engine: Engine = await nursery.start(_run_engine, voice, sink, options, on_event, backend)
        try:
            yield engine
        finally:
            engine._closing.set()


async def _run_engine(
    voice: Any,
    sink: Sink | None,
    options: EngineOptions,
    on_event: Callable[[Event], None] | None,
    backend: Backend | None,
    *,
    task_status: trio.TaskStatus[Engine] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The engine's life: start up, report ready, serve, close down."""
    if backend is None:
        backend = await _load_backend(voice, options)
    try:
        await backend.warm_up()
        if sink is None:
            from .sinks.soundcard import SoundCardSink

            sink = SoundCardSink(fade_ms=options.fade_ms)
        await sink.start(backend.sample_rate_hz)
        try:
            async with trio.open_nursery() as utterances:
                engine = Engine(backend, sink, options, utterances, on_event)
                task_status.started(engine)
                await engine._closing.wait()
            with trio.CancelScope(shield=True):
                await sink.aclose()
        except BaseException:
            # A dead device fails these too; the error on its way out says more.
            with trio.CancelScope(shield=True), trio.move_on_after(5.0):
                with contextlib.suppress(Exception):
                    await sink.interrupt()
                with contextlib.suppress(Exception):
                    await sink.aclose()
            raise
    finally:
        # Always, and outside the sink's time limit: a model call still
        # running in a worker thread when the interpreter exits aborts it
        # (onnxruntime's thread pool: "terminate called", SIGABRT).
        with trio.CancelScope(shield=True):
            await backend.aclose()


async def _load_backend(voice: Any, options: EngineOptions) -> Backend:
    from .backend import VoiceBackend
    from .voices.piper import PiperVoice
    from .voices.registry import load_voice

    if voice is None or isinstance(voice, (str, Path)):
        loaded = await trio.to_thread.run_sync(load_voice, voice)
    elif isinstance(voice, PiperVoice):
        loaded = voice
    else:
        raise ConfigError(
            f"voice must be a PiperVoice, a path or a name, not {type(voice).__name__}"
        )
    return VoiceBackend(loaded, options.synthesis, options.effective_schedule)
