"""The engine: the only place that wires the actor graph.

::

    caller ─text─► segment_text ─► phonemize ─► encode ─► decode ─► play ─► sink
                                                                     │
                                                     announce ◄─marks┘

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from . import actors
from .config import EngineOptions
from .errors import ConfigError, StreamTTSError
from .events import Event, Interrupted, SegmentStarted, UtteranceDone, UtteranceStats, WordStarted
from .sinks.base import Sink
from .text.segmenter import Segmenter, SegmenterOptions

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["Engine", "TextStream", "UtteranceResult", "open_engine"]

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

    def __init__(self, send: trio.MemorySendChannel[actors.TextPiece]) -> None:
        self._send = send
        self.result: UtteranceResult | None = None
        self.error: BaseException | None = None

    async def send(self, piece: str) -> None:
        if not isinstance(piece, str):
            raise TypeError(f"text pieces must be str, got {type(piece).__name__}")
        # After an interrupt the utterance is over: the rest of its text is dropped.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._send.send(actors.TextPiece(piece, trio.current_time()))


class Engine:
    """Speaks utterances one after another. Make one with :func:`open_engine`.

    All methods must be called from the trio run that opened the engine.
    """

    def __init__(
        self,
        backend: Any,
        sink: Sink,
        options: EngineOptions,
        segmenter_options: SegmenterOptions,
        nursery: trio.Nursery,
        on_event: Callable[[Event], None] | None,
    ) -> None:
        self.backend = backend
        self.sink = sink
        self.options = options
        self.segmenter_options = segmenter_options
        self._nursery = nursery
        self._on_event = on_event
        self._turn = trio.Lock()
        self._current: trio.CancelScope | None = None
        self._stopped = trio.Event()  # set when the current utterance has ended
        self._interrupted_at: float | None = None
        self._count = 0
        self.history: list[UtteranceStats] = []

    # -- public API ------------------------------------------------------------

    async def say(self, text: str) -> UtteranceResult:
        """Speak ``text`` and return once it has been heard (or interrupted)."""
        async with self.stream() as stream:
            await stream.send(text)
        assert stream.result is not None
        return stream.result

    @asynccontextmanager
    async def stream(self) -> AsyncIterator[TextStream]:
        """One utterance from text pieces; see :class:`TextStream`."""
        size = self.options.channels.text_pieces
        send, receive = trio.open_memory_channel[actors.TextPiece](size)
        done = trio.Event()
        stream = TextStream(send)

        async def run() -> None:
            try:
                stream.result = await self._utterance(receive)
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
        self, text: trio.MemoryReceiveChannel[actors.TextPiece]
    ) -> UtteranceResult:
        async with self._turn:
            self._count += 1
            number = self._count
            stats = UtteranceStats(number)
            heard: dict[str, Any] = {}
            compute_before = getattr(self.backend, "compute_s", 0.0)
            underruns_before = self.sink.underruns
            try:
                with trio.CancelScope() as scope:
                    self._current = scope
                    self._stopped = trio.Event()
                    self._interrupted_at = None
                    await self._graph(text, number, stats, heard)
                    await self.sink.drain()
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
            stats.compute_s = getattr(self.backend, "compute_s", 0.0) - compute_before
            stats.underruns = self.sink.underruns - underruns_before
            self.history.append(stats)
            if len(self.history) > 100:
                del self.history[0]
            result = UtteranceResult(
                number, interrupted, stats, heard.get("segment"), heard.get("word")
            )
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
        text: trio.MemoryReceiveChannel[actors.TextPiece],
        number: int,
        stats: UtteranceStats,
        heard: dict[str, Any],
    ) -> None:
        sizes = self.options.channels
        meter = actors.Meter(stats)
        clock = actors.Clock()
        seg_send, seg_receive = trio.open_memory_channel[Any](sizes.segments)
        pho_send, pho_receive = trio.open_memory_channel[Any](sizes.phonemes)
        plan_send, plan_receive = trio.open_memory_channel[Any](sizes.plans)
        chunk_send, chunk_receive = trio.open_memory_channel[Any](sizes.chunks)
        mark_send, mark_receive = trio.open_memory_channel[Any](sizes.marks)
        segmenter = Segmenter(self.segmenter_options)
        rng = self.backend.new_rng()
        failures = actors.Failures(number, stats, self._emit)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                actors.segment_text,
                text.clone(),
                seg_send,
                segmenter,
                self.options.stall_s,
                meter,
                clock,
            )
            nursery.start_soon(
                actors.phonemize, seg_receive, pho_send, self.backend, meter, failures
            )
            nursery.start_soon(
                actors.encode, pho_receive, plan_send, self.backend, rng, meter, failures
            )
            nursery.start_soon(
                actors.decode,
                plan_receive,
                chunk_send,
                self.backend,
                self.options.decoder_head_start_s,
                meter,
                failures,
            )
            nursery.start_soon(
                actors.play,
                chunk_receive,
                mark_send,
                self.sink,
                self.backend.sample_rate_hz,
                self.options.gain,
                self.options.sentence_gap_s,
                number,
                stats,
                clock,
                meter,
            )
            nursery.start_soon(
                actors.announce, mark_receive, self.sink, self._emit, stats, clock, heard
            )

    def _emit(self, event: Event) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a caller's bug must not stop the speech
            _log.exception("the on_event callback raised")


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
    backend: Any = None,
) -> AsyncIterator[Engine]:
    """Open an engine; it is ready (model loaded, kernels compiled, sink open)
    when the ``async with`` body starts.

    - ``voice``: a loaded :class:`~streamtts.PiperVoice`, a path, an
      installed voice's name, or None for the default voice.
    - ``sink``: where audio goes; None for the sound card.
    - ``on_event``: called in the event loop with each
      :class:`~streamtts.events.Event` as it happens (words when heard).
    - ``backend``: replaces the voice entirely (``streamtts.testing``).

    Leaving the block waits for the current utterance to be heard.
    Cancelling it stops everything at once.
    """
    options = options or EngineOptions()
    if backend is None:
        backend = await _load_backend(voice, options)
    if sink is None:
        from .sinks.soundcard import SoundCardSink

        sink = SoundCardSink(fade_ms=options.fade_ms)
    await sink.start(backend.sample_rate_hz)
    try:
        async with trio.open_nursery() as nursery:
            engine = Engine(
                backend, sink, options, segmenter_options or SegmenterOptions(), nursery, on_event
            )
            yield engine
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
            await _close_backend(backend)


async def _close_backend(backend: Any) -> None:
    """Let model calls abandoned by a barge-in finish: no thread outlives us."""
    close = getattr(backend, "aclose", None)
    if close is not None:
        await close()


async def _load_backend(voice: Any, options: EngineOptions) -> Any:
    from .dsp.ring import warm_up
    from .voices.backend import VoiceBackend
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
    await trio.to_thread.run_sync(warm_up)
    await trio.to_thread.run_sync(loaded.warm_up)
    return VoiceBackend(loaded, options.synthesis)
