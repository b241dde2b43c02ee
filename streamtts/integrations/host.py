"""The local speaker host: one trio thread per process, voices loaded once.

Every plugin instance of a process (Pipecat services, LiveKit TTS objects,
on whatever asyncio loop each runs) speaks through one :class:`LocalHost`:
one loaded and warmed voice, one :class:`~streamtts.serve.scheduler.ModelScheduler`
deciding whose model call runs first (earliest deadline), and one
:class:`~streamtts.serve.scheduler.Admission` refusing at once when the
machine is full, exactly as ``streamtts serve`` shares them between its
clients. A plugin stream is a session (:mod:`._speaker`): its own engine
and bounded pipeline on that voice, driven by the conversation core
through a :class:`LocalChannel`.

**Why a thread of its own, not trio's guest mode inside the agent's
asyncio loop.** Only one guest run fits on a thread, and a guest run lives
and dies with its loop, while a process may hold several frameworks,
several loops one after another (every ``asyncio.run``) and forked job
processes; a thread serves them all with one voice and one scheduler.
Measured (``benchmarks/agents_host.py``: both hosts in one process, the
same voice, 48 sentences each, alternating; results/agents_host.md), the
thread costs nothing that shows: first audio as seen from asyncio, p50,
113 ms in a thread vs 120 ms as a guest with the agent's loop idle, 153 vs
152 ms with it busy (1 ms of Python in every 2 ms), p95 322 vs 299 ms, on
2 cores that other work kept at a load of 4-5 (hence the absolute times).
Model calls release the GIL, so the two threads rarely wait for each
other; the cost is a thread wake-up per message each way.

Threading contract: the asyncio side only ever calls
``trio_token.run_sync_soon`` (thread-safe, never blocks); the trio side
only ever calls ``loop.call_soon_threadsafe``. Both directions are bounded
by credits: at most ``_INPUTS_AHEAD`` inputs and ``_REPORTS_AHEAD``
reports are in flight per session, so a consumer that stops reading
pauses its own session's audio, never anyone else's.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from ..config import EngineOptions
from ..conversation.core import Conversation, Rules
from ..conversation.inputs import ClientInput
from ..conversation.outputs import ClientReport
from ..conversation.shell import ConversationShell
from ..serve.scheduler import Admission, ModelScheduler
from ..text.options import TextOptions
from ..voices.piper import PiperVoice
from ._speaker import HostState, open_host_speaker

__all__ = ["LOCAL_RULES", "LocalChannel", "LocalHost", "VoiceSpec", "local_host"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
VoiceSpec = PiperVoice | str | Path | None

# Inputs (tokens) in flight to the host: the shell feeds each to the core
# the moment it arrives, so this is only the hop between the threads.
_INPUTS_AHEAD = 64
# Reports in flight to the asyncio side (each audio report is one chunk,
# at most 64 frames, 0.74 s): with the shell's own 4, ~9 s of audio at most.
_REPORTS_AHEAD = 8

# An agent's conversation: a new utterance queues behind the one speaking
# (a framework plays its contexts in order), text goes only into a stream
# that was started, and an utterance's text is capped at a million
# characters (the shell queues text it has not fed yet: bounded by this).
LOCAL_RULES = Rules(
    overlap="queue",
    text_opens_stream=False,
    refuse_end_outside_stream=False,
    max_text_chars=1_000_000,
)


def _voice_key(voice: VoiceSpec) -> tuple[str, object]:
    if voice is None:
        return ("default", None)
    if isinstance(voice, PiperVoice):
        return ("loaded", id(voice))
    return ("named", str(voice))


class _LoadedVoice:
    """One voice, loading or loaded (trio side)."""

    def __init__(self) -> None:
        self.ready = trio.Event()
        self.voice: PiperVoice | None = None
        self.error: BaseException | None = None


def _load_warm(voice: VoiceSpec) -> PiperVoice:
    """Blocking: load (unless given loaded), warm, compile the kernels."""
    from ..dsp.ring import warm_up as compile_kernels
    from ..synthesis import PiperSteps, load_warm_voice

    if isinstance(voice, PiperVoice):
        PiperSteps(voice).warm_up()
        loaded = voice
    else:
        loaded = load_warm_voice(voice)
    compile_kernels()
    return loaded


class LocalHost:
    """See the module docstring. Use :func:`local_host` for the process's one."""

    def __init__(self, *, model_slots: int = 2, max_streams: int = 8) -> None:
        self.model_slots = model_slots
        self.max_streams = max_streams
        self.pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._failure: BaseException | None = None
        self.state: HostState | None = None
        self._voices: dict[tuple[str, object], _LoadedVoice] = {}
        self._keep: list[PiperVoice] = []  # voices given loaded: their ids stay theirs

    # -- lifetime ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the host's thread (idempotent; returns once trio runs)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run_thread, name="streamtts-host", daemon=True
                )
                self._thread.start()
                atexit.register(self.stop)
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError("the streamtts host thread failed") from self._failure

    def _run_thread(self) -> None:
        try:
            trio.run(self.serve)
        except BaseException as err:  # pragma: no cover - a bug in the host itself
            self._failure = err
            _log.exception("the streamtts host stopped")
        finally:
            self._ready.set()

    async def serve(self) -> None:
        """The host's trio side (its thread's ``trio.run``; a guest run in
        ``benchmarks/agents_host.py``, for the comparison)."""
        self.state = HostState(ModelScheduler(self.model_slots), Admission(self.max_streams))
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Cancel every session and end the thread (at exit: a model call
        left running in a worker thread would abort the interpreter)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or self._stop is None:
            return
        stop = self._stop
        try:
            self.call(stop.set)
        except trio.RunFinishedError:
            return
        thread.join(timeout_s)

    # -- calling across ------------------------------------------------------------------

    def call(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` in the host's trio thread, soon; never blocks."""
        if self._token is None:
            raise RuntimeError("the streamtts host is not running")
        self._token.run_sync_soon(fn, *args)

    async def run(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: object,
        orphan: Callable[[T], None] | None = None,
    ) -> T:
        """Await ``fn(*args)`` run as a trio task in the host, from asyncio.
        If the asyncio caller is cancelled first, ``orphan`` gets the result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(value: T | None, error: BaseException | None) -> None:
            if future.cancelled():
                if error is None and orphan is not None:
                    orphan(value)  # type: ignore[arg-type]
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)  # type: ignore[arg-type]

        async def task() -> None:
            try:
                value = await fn(*args)
            except Exception as err:
                loop.call_soon_threadsafe(settle, None, err)
            else:
                loop.call_soon_threadsafe(settle, value, None)

        assert self._nursery is not None
        self.call(self._nursery.start_soon, task)
        return await future

    # -- voices ------------------------------------------------------------------------

    def prewarm(self, voice: VoiceSpec = None) -> None:
        """Start loading ``voice`` (and compiling the kernels) in the host;
        returns at once."""
        self.start()
        assert self._nursery is not None
        self.call(self._nursery.start_soon, self._voice, voice)

    async def voice(self, voice: VoiceSpec = None) -> PiperVoice:
        """``voice`` loaded and warm (from asyncio; loaded once per process)."""
        self.start()
        return await self.run(self._voice, voice)

    async def _voice(self, spec: VoiceSpec) -> PiperVoice:
        key = _voice_key(spec)
        slot = self._voices.get(key)
        if slot is None:
            slot = self._voices[key] = _LoadedVoice()
            if isinstance(spec, PiperVoice):
                self._keep.append(spec)
            try:
                slot.voice = await trio.to_thread.run_sync(_load_warm, spec)
            except Exception as err:
                slot.error = err
                del self._voices[key]  # the next request tries again
            finally:
                slot.ready.set()
        await slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.voice is not None
        return slot.voice

    # -- sessions ----------------------------------------------------------------------

    async def open_channel(
        self,
        voice: VoiceSpec = None,
        options: EngineOptions | None = None,
        reading: TextOptions | None = None,
    ) -> LocalChannel:
        """A new session on ``voice`` (from asyncio), ready to speak."""
        self.start()
        loop = asyncio.get_running_loop()
        channel = LocalChannel(self, loop)
        options = options or EngineOptions()
        reading = reading or options.text
        session, rate = await self.run(
            self._open_session,
            channel,
            voice,
            options,
            reading,
            orphan=lambda opened: self.call(opened[0].close),
        )
        channel.bind(session, rate)
        return channel

    async def _open_session(
        self,
        channel: LocalChannel,
        voice: VoiceSpec,
        options: EngineOptions,
        reading: TextOptions,
    ) -> tuple[_HostSession, int]:
        loaded = await self._voice(voice)
        session = _HostSession(channel.loop, channel.deliver, channel.input_taken)
        assert self._nursery is not None and self.state is not None
        await self._nursery.start(session.run, self.state, loaded, options, reading)
        return session, loaded.sample_rate_hz

    def statistics(self) -> dict[str, Any]:
        """What the host has done so far (a snapshot; read from any thread)."""
        state = self.state
        if state is None:
            return {}
        return {
            "sessions": state.sessions,
            "peak_sessions": state.peak_sessions,
            "utterances": state.utterances,
            "refused": state.refused,
            "late_s": state.late_s,
            "admission_peak": state.admission.peak,
            "model_calls": state.scheduler.granted,
            "peak_waiting_calls": state.scheduler.peak_waiting,
        }


class _HostSession:
    """A session's trio side: inputs in, the shell, reports out."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[ClientReport | None], None],
        input_taken: Callable[[], None],
    ) -> None:
        self.loop = loop
        self._deliver = deliver
        self._input_taken = input_taken
        self._inputs_send, self._inputs_receive = trio.open_memory_channel[ClientInput](
            _INPUTS_AHEAD
        )
        self._room = trio.Semaphore(_REPORTS_AHEAD)

    # called in the trio thread (through the token) ---------------------------------------

    def put(self, item: ClientInput) -> None:
        with contextlib.suppress(trio.ClosedResourceError):
            self._inputs_send.send_nowait(item)  # never full: the caller holds a credit

    def taken(self) -> None:
        self._room.release()

    def close(self) -> None:
        self._inputs_send.close()  # the shell hears the end of its inputs and stops

    # its task ----------------------------------------------------------------------------

    async def _write(self, report: ClientReport) -> None:
        await self._room.acquire()
        self.loop.call_soon_threadsafe(self._deliver, report)

    async def _inputs(self) -> AsyncIterator[ClientInput]:
        async for item in self._inputs_receive:
            self.loop.call_soon_threadsafe(self._input_taken)
            yield item

    async def run(
        self,
        state: HostState,
        voice: PiperVoice,
        options: EngineOptions,
        reading: TextOptions,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        shell = ConversationShell(Conversation(LOCAL_RULES), self._write)
        started = False
        try:
            async with open_host_speaker(state, voice, options, reading, shell) as speaker:
                task_status.started()
                started = True
                await shell.run(speaker, self._inputs())
        except Exception:
            if not started:
                raise  # to the one opening it
            _log.exception("a streamtts plugin session failed")  # never the host's trouble
        finally:
            with contextlib.suppress(RuntimeError):  # its loop closed: nobody listens
                self.loop.call_soon_threadsafe(self._deliver, None)  # no more reports


class LocalChannel:
    """A session's asyncio side: ``await send(input)``, ``async for report
    in channel``, ``await aclose()``. Made by :meth:`LocalHost.open_channel`.

    ``send`` waits only while ``_INPUTS_AHEAD`` inputs are in flight; the
    reports come in the order the conversation made them and end when the
    session does. Use from the loop that opened it.
    """

    def __init__(self, host: LocalHost, loop: asyncio.AbstractEventLoop) -> None:
        self.host = host
        self.loop = loop
        self.sample_rate_hz = 0
        self._session: _HostSession | None = None
        self._reports: asyncio.Queue[ClientReport | None] = asyncio.Queue()
        self._room = asyncio.Semaphore(_INPUTS_AHEAD)
        self._ended = False
        self._closed = False

    def bind(self, session: _HostSession, sample_rate_hz: int) -> None:
        self._session = session
        self.sample_rate_hz = sample_rate_hz

    # called in the loop by the host ------------------------------------------------------

    def deliver(self, report: ClientReport | None) -> None:
        self._reports.put_nowait(report)

    def input_taken(self) -> None:
        self._room.release()

    # the channel ---------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """The session is over (closed, or it failed): nothing more comes."""
        return self._ended or self._closed

    async def send(self, item: ClientInput) -> None:
        if self._closed or self._ended:
            raise ConnectionError("this streamtts session is closed")
        await self._room.acquire()
        assert self._session is not None
        try:
            self.host.call(self._session.put, item)
        except (RuntimeError, trio.RunFinishedError) as err:
            self._ended = True
            raise ConnectionError("the streamtts host has stopped") from err

    def __aiter__(self) -> LocalChannel:
        return self

    async def __anext__(self) -> ClientReport:
        if self._ended:
            raise StopAsyncIteration
        report = await self._reports.get()
        if report is None:
            self._ended = True
            raise StopAsyncIteration
        assert self._session is not None
        try:
            self.host.call(self._session.taken)
        except (RuntimeError, trio.RunFinishedError):
            self._ended = True
        return report

    async def aclose(self) -> None:
        """End the session (what it speaks stops) and wait, briefly, until it is gone."""
        if self._closed or self._session is None:
            return
        self._closed = True
        try:
            self.host.call(self._session.close)
        except (RuntimeError, trio.RunFinishedError):
            return
        try:
            await asyncio.wait_for(self._drain(), 2.0)
        except asyncio.TimeoutError:
            _log.warning("a streamtts session took over 2 s to close")

    async def _drain(self) -> None:
        async for _report in self:
            pass


_HOST: LocalHost | None = None
_HOST_LOCK = threading.Lock()


def local_host() -> LocalHost:
    """The process's one host (made on first use; a forked child makes its own)."""
    global _HOST
    with _HOST_LOCK:
        if _HOST is None or _HOST.pid != os.getpid():
            _HOST = LocalHost()
        return _HOST
