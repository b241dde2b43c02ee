"""The engine: a voice, a sink, and utterances taking turns.

Each utterance is an :class:`~streamtts.utterance.Utterance` with its own
state, tasks and lifetime; the engine keeps what they share: the turn
(one utterance speaks at a time, in the order they were started), the
barge-in (:meth:`Engine.interrupt` stops the one speaking), and the
history of what each cost. Memory is bounded by the channel sizes, never
by the length of the text: ``send`` waits while the engine is full.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import trio

from .backend import Backend, ThreadedBackend
from .config import EngineOptions, check_delivery
from .errors import ConfigError, StreamTTSError
from .events import Event, UtteranceStats
from .sinks.base import Sink
from .text import reading
from .text.options import TextOptions
from .text.segmenter import SegmenterOptions
from .utterance import Utterance
from .utterance_state import UtteranceResult

__all__ = ["Engine", "TextStream", "UtteranceResult", "open_engine", "run_engine"]

# Names made for the listener already: read exactly as given.
_AS_WRITTEN = TextOptions(normalize=False)

_log = logging.getLogger(__name__)

_HISTORY = 100  # utterances whose statistics are kept


class TextStream:
    """Feed one utterance piece by piece (an LLM's tokens, caption lines).

    ``send`` waits when the engine is full (backpressure). Leaving the
    ``async with engine.stream()`` block ends the text and waits until it
    has been spoken; ``result`` then says how it ended.
    """

    def __init__(self, utterance: Utterance) -> None:
        self.utterance = utterance
        self.result: UtteranceResult | None = None

    async def send(self, piece: str) -> None:
        await self.utterance.send(piece)

    async def flush(self) -> None:
        """Speak the whole words sent so far now, without waiting for the
        sentence to end (as a pause in the stream would)."""
        await self.utterance.flush()


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
        loudness_gain: float = 1.0,
    ) -> None:
        self.backend = backend
        self.sink = sink
        self.options = options
        # The voice's gain to options.loudness_lufs, calibrated at start.
        self.loudness_gain = loudness_gain
        self._utterances = nursery  # where stream() and say() run theirs
        self._on_event = on_event
        self._turn = trio.Lock()  # fair: turns go in the order they were asked for
        self._current: Utterance | None = None
        self._count = 0
        self._active = 0
        self._closing = trio.Event()
        self._closed = trio.Event()
        self.history: list[UtteranceStats] = []

    @property
    def segmenter_options(self) -> SegmenterOptions:
        return self.options.segmenter

    @property
    def active(self) -> int:
        """Utterances started and not finished (0: nothing left behind)."""
        return self._active

    # -- utterances ------------------------------------------------------------------------

    async def utterance(
        self,
        text_options: TextOptions | None = None,
        rate: float = 1.0,
        *,
        delivery: str | None = None,
        on_turn: Callable[[], None] | None = None,
        task_status: trio.TaskStatus[Utterance] = trio.TASK_STATUS_IGNORED,
    ) -> Utterance:
        """One utterance, for trio's nursery start::

            utterance = await nursery.start(engine.utterance, text_options, rate)
            await utterance.send("Hello there.")
            utterance.end()
            result = await utterance.wait()

        ``text_options`` replace the engine's ``options.text``; ``rate``
        multiplies the voice's pace for this utterance only; ``delivery``
        (``"calm"`` or ``"lively"``) replaces the engine's
        ``options.synthesis.delivery`` for it (a bad one: ``ConfigError``);
        ``on_turn`` is called as its turn begins. Returns the finished
        utterance."""
        if delivery is not None:
            check_delivery(delivery)
        utterance = Utterance(self, text_options or self.options.text, rate, on_turn, delivery)
        self._active += 1
        try:
            task_status.started(utterance)
            await utterance.run()
        finally:
            self._active -= 1
        return utterance

    async def say(
        self, text: str, *, text_options: TextOptions | None = None, delivery: str | None = None
    ) -> UtteranceResult:
        """Speak ``text`` and return once it has been heard (or interrupted).

        ``text_options`` (format, markdown's code blocks and tables, emoji)
        replace the engine's ``options.text`` for this utterance, and
        ``delivery`` its ``options.synthesis.delivery``."""
        async with self.stream(text_options=text_options, delivery=delivery) as stream:
            await stream.send(text)
        assert stream.result is not None
        return stream.result

    async def say_character(self, char: str) -> UtteranceResult:
        """One character as a screen reader says it: "a", "cap B", "dollar"."""
        return await self.say(reading.say_character(char), text_options=_AS_WRITTEN)

    async def say_key(self, key: str) -> UtteranceResult:
        """A key or combination by name: "ctrl+c" is "control c"."""
        return await self.say(reading.say_key(key), text_options=_AS_WRITTEN)

    @asynccontextmanager
    async def stream(
        self, *, text_options: TextOptions | None = None, delivery: str | None = None
    ) -> AsyncIterator[TextStream]:
        """One utterance from text pieces; see :class:`TextStream`
        (``text_options`` and ``delivery`` as for :meth:`say`).

        If the block raises (or is cancelled), what was sent is interrupted
        rather than spoken to its end."""
        if self._closing.is_set():
            raise StreamTTSError("the engine is closed")
        if delivery is not None:
            check_delivery(delivery)  # here, not inside the task: the error comes out whole
        utterance: Utterance = await self._utterances.start(
            partial(self.utterance, text_options, delivery=delivery)
        )
        stream = TextStream(utterance)
        try:
            yield stream
        except BaseException:
            with trio.CancelScope(shield=True):
                await utterance.interrupt()
            raise
        finally:
            utterance.end()
        stream.result = await utterance.wait()

    async def interrupt(self) -> None:
        """Barge-in: stop the utterance speaking now, fade out, drop its audio.

        Returns once the sink has dropped the queued audio. The engine is
        ready for the next utterance; queued ones still play.
        """
        if self._current is not None:
            await self._current.interrupt()

    # -- what utterances ask of it (see utterance.Stage) -------------------------------

    def emit(self, event: Event) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a caller's bug must not stop the speech
            _log.exception("the on_event callback raised")

    @asynccontextmanager
    async def turn(self, utterance: Utterance) -> AsyncIterator[int]:
        """Utterance ``utterance`` speaks now; yields its number."""
        async with self._turn:
            self._count += 1
            self._current = utterance
            try:
                yield self._count
            finally:
                self._current = None

    def record(self, stats: UtteranceStats) -> None:
        self.history.append(stats)
        del self.history[:-_HISTORY]

    # -- statistics and closing ------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Totals and the last utterance's numbers (a JSON-friendly dict)."""
        history = self.history
        audio = sum(s.audio_s for s in history)
        compute = sum(s.compute_s for s in history)
        peaks: dict[str, int] = {}
        for s in history:
            for name, value in s.peak_buffers.items():
                peaks[name] = max(peaks.get(name, 0), value)
        ttfas = [s.ttfa_s for s in history if s.ttfa_s is not None]
        heard = [s.ttfa_heard_s for s in history if s.ttfa_heard_s is not None]
        cancels = [s.cancel_latency_s for s in history if s.cancel_latency_s]
        return {
            "utterances": len(history),
            "ttfa_s": ttfas[0] if ttfas else None,
            "ttfa_heard_s": heard[0] if heard else None,
            "rtf": compute / audio if audio else None,
            "audio_s": audio,
            "compute_s": compute,
            "underruns": self.sink.underruns,
            "peak_buffers": peaks,
            "buffer_sizes": self.buffer_sizes(),
            "cancel_latency_s": cancels[-1] if cancels else None,
            "last": history[-1].as_dict() if history else {},
        }

    def buffer_sizes(self) -> dict[str, int]:
        sizes = dict(self.options.channels.__dict__)
        sizes.pop("text_pieces")
        return sizes

    async def aclose(self) -> None:
        """Close after what was started is heard (an engine from :func:`run_engine`)."""
        self._closing.set()
        await self._closed.wait()


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
        engine: Engine = await nursery.start(run_engine, voice, sink, options, on_event, backend)
        try:
            yield engine
        finally:
            engine._closing.set()


async def run_engine(
    voice: Any = None,
    sink: Sink | None = None,
    options: EngineOptions | None = None,
    on_event: Callable[[Event], None] | None = None,
    backend: Backend | None = None,
    *,
    task_status: trio.TaskStatus[Engine] = trio.TASK_STATUS_IGNORED,
) -> None:
    """An engine's life, for trio's nursery start: start up, report ready,
    serve until :meth:`Engine.aclose` (or cancelled), close down. The
    arguments are :func:`open_engine`'s."""
    options = options or EngineOptions()
    if backend is None:
        backend = await _load_backend(voice, options)
    engine: Engine | None = None
    try:
        if options.warm_up:
            await backend.warm_up()
        else:  # the kernels still, for the sink's first callback
            from .dsp.ring import warm_up as compile_kernels

            await trio.to_thread.run_sync(compile_kernels)
        loudness_gain = 1.0
        if options.loudness_lufs is not None:  # once per voice, then from its cache
            from .loudness import engine_gain

            loudness_gain = await trio.to_thread.run_sync(engine_gain, backend, options)
        if sink is None:
            from .sinks.soundcard import SoundCardSink

            sink = SoundCardSink(fade_ms=options.fade_ms)
        await sink.start(backend.sample_rate_hz)
        try:
            async with trio.open_nursery() as utterances:
                engine = Engine(backend, sink, options, utterances, on_event, loudness_gain)
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
        if engine is not None:
            engine._closed.set()


async def _load_backend(voice: Any, options: EngineOptions) -> Backend:
    from .voices.piper import PiperVoice
    from .voices.registry import load_voice

    if voice is None or isinstance(voice, (str, Path)):
        precision, threads = options.voice.precision, options.voice.threads
        loaded = await trio.to_thread.run_sync(
            lambda: load_voice(voice, precision=precision, threads=threads)
        )
    elif isinstance(voice, PiperVoice):
        loaded = voice
    else:
        raise ConfigError(
            f"voice must be a PiperVoice, a path or a name, not {type(voice).__name__}"
        )
    return ThreadedBackend.for_voice(loaded, options.synthesis, options.effective_schedule)
