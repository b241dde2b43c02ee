"""``sd_streamtts``: streamtts as a speech-dispatcher output module.

speech-dispatcher starts the module and talks to it on standard input and
output (``protocol.py``). At ``INIT`` the module loads the voice once;
at ``AUDIO`` it opens its output: one warm engine for the whole session.
The output is speech-dispatcher itself, as for its bundled modules: the
audio goes back as ``705 AUDIO`` messages, paced to the playing
(:class:`ServerAudio`), and the server plays it with the marks in order
(``StreamttsOutput "device"`` in its file plays on the sound card instead).
Each utterance starts at its first audible sample (the voice's quiet
lead-in trimmed: 40 ms sooner for a typical word). Each
``SPEAK`` is an utterance; speech-dispatcher sends SSML, which goes
through the SSML front end, and the session's settings become its reading
modes:

- ``rate`` -100…100 → speaking rate 0.4×…2.5× (2.5 ** (rate / 100)): like
  the espeak-ng module's 80…450 words a minute around its 175;
- ``volume`` -100…100 → gain 0…2 (0 is the voice's own level);
- ``punctuation_mode`` none/some/most/all, ``spelling_mode`` on/off,
  ``cap_let_recogn`` none/spell/icon (spell: "cap" said; icon: a short
  tone) → the front end's reading modes;
- ``synthesis_voice`` and ``language`` → the voice for the message
  (``voices.py``); a new voice opens a new engine on the same output;
- ``pitch`` -100…100 → 6 semitones down…up (``voices/pitch.py``: the
  voice's timbre moves with it; ``pitch_range`` is not supported);

Events: ``701 BEGIN`` as an utterance starts, ``700 INDEX MARK`` when the
audio at a ``<mark>`` is heard, ``702 END``, or ``703 STOP`` after ``STOP``
(the server drops what it holds; on the sound card, a 5 ms fade), or ``704
PAUSE`` after ``PAUSE`` (at the next mark). Anything the module cannot do
gets an error reply; it never hangs the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import trio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

from ..config import EngineOptions
from ..engine import Engine, open_engine
from ..errors import StreamTTSError
from ..events import Event, MarkReached
from ..sinks.base import Sink
from ..sinks.wav import float_to_s16
from ..text.frontend import TextOptions
from ..voices.piper import PiperVoice
from .protocol import Command, ModuleProtocol, event
from .voices import ModuleVoice, catalogue, choose, language_of

__all__ = ["main"]

_log = logging.getLogger("streamtts.speechd")

_PUNCTUATION = {"none", "some", "most", "all"}
_CAPITALS = {"none": "none", "spell": "cap", "icon": "tone"}
_BAD_VALUE = "303 ERROR INVALID PARAMETER OR VALUE"


@dataclass
class Settings:
    """What speech-dispatcher has SET for the next messages."""

    rate: int = 0
    volume: int = 0
    pitch: int = 0
    punctuation: str = "none"
    spelling: bool = False
    capitals: str = "none"
    voice_name: str | None = None  # synthesis_voice: a name from LIST VOICES
    language: str | None = None

    def update(self, values: dict[str, str]) -> bool:
        """Apply ``values``; False if one of them makes no sense."""
        good = True
        for key, value in values.items():
            try:
                if key == "rate":
                    self.rate = max(-100, min(100, int(value)))
                elif key == "volume":
                    self.volume = max(-100, min(100, int(value)))
                elif key == "punctuation_mode":
                    if value not in _PUNCTUATION:
                        raise ValueError(value)
                    self.punctuation = value
                elif key == "spelling_mode":
                    self.spelling = value == "on"
                elif key == "cap_let_recogn":
                    self.capitals = _CAPITALS[value]
                elif key == "synthesis_voice":
                    self.voice_name = None if value == "NULL" else value
                elif key == "language":
                    self.language = None if value == "NULL" else value
                elif key == "pitch":
                    self.pitch = max(-100, min(100, int(value)))
                elif key == "pitch_range" and value not in ("0", "NULL"):
                    _log.info("pitch range is not supported; pitch is")
            except (ValueError, KeyError):
                good = False
        return good

    def wrap(self, ssml: str) -> str:
        """The message inside a prosody for the session's rate, volume and
        pitch (-100…100 → 6 semitones down…up)."""
        rate = 100 * 2.5 ** (self.rate / 100)
        volume = self.volume + 100
        pitch = f' pitch="{6 * self.pitch / 100:+.2f}st"' if self.pitch else ""
        return (
            f'<speak><prosody rate="{rate:.0f}%" volume="{volume}%"{pitch}>{ssml}</prosody></speak>'
        )

    def text_options(self) -> TextOptions:
        return TextOptions(
            format="ssml", punctuation=self.punctuation, capitals=self.capitals,
            spell=self.spelling,
        )  # fmt: skip


class Module:
    """One speech-dispatcher session."""

    def __init__(self, out: trio.MemorySendChannel[bytes], voice: str | None) -> None:
        self.out = out
        self.voice = voice
        self.loaded: PiperVoice | None = None  # loaded and warmed at INIT
        self.voices: list[ModuleVoice] = []  # what LIST VOICES offers
        self.home = ""  # the session's own voice: the one INIT loaded
        self.kept: dict[str, PiperVoice] = {}  # voices loaded so far, by name
        self.unusable: set[str] = set()  # voices that failed to load: not tried again
        self._engine_exit: contextlib.AsyncExitStack | None = None
        self.run_done: trio.Event | None = None  # set when the current message's task ends
        self.nursery: trio.Nursery | None = None  # the session's, for a pause's interrupt
        self.server_audio = False  # speech-dispatcher plays our audio (705 AUDIO)
        self.settings = Settings()
        self.engine: Engine | None = None
        self.speaking: trio.CancelScope | None = None
        self.stop_reason: str | None = None  # "stop" or "pause", for the current message
        self.pause_requested = False

    def send(self, line: str) -> None:
        try:
            self.out.send_nowait(line.encode() + b"\n")
        except trio.WouldBlock:  # pragma: no cover - 1024 lines queued: the server is gone
            _log.error("speech-dispatcher is not reading; dropped %r", line[:40])

    def on_event(self, happened: Event) -> None:
        if isinstance(happened, MarkReached):
            self.send(event(700, happened.name))
            if self.pause_requested and self.engine is not None and self.nursery is not None:
                self.pause_requested = False
                self.stop_reason = "pause"
                self.nursery.start_soon(self.engine.interrupt)

    async def speak(self, command: Command) -> None:
        assert self.engine is not None
        engine = self.engine
        if self.speaking is not None:  # a new message replaces the old at once
            self.stop_reason = "replaced"
            await engine.interrupt()
        self.stop_reason = None
        self.pause_requested = False
        try:
            text = command.text
            if command.name == "CHAR":
                result = await engine.say_character(" " if text == "space" else text)
            elif command.name == "KEY":
                result = await engine.say_key(text)
            elif command.name == "SOUND_ICON":
                result = await engine.say(text.replace("_", " "))
            else:
                options = self.settings.text_options()
                result = await engine.say(self.settings.wrap(text), text_options=options)
        except StreamTTSError as err:
            _log.warning("could not speak: %s", err)
            self.send(event(702))
            return
        if not result.interrupted:
            self.send(event(702))
        elif self.stop_reason == "pause":
            self.send(event(704))
        elif self.stop_reason == "stop":
            self.send(event(703))
        # "replaced": the next message's 701 says it all

    async def stop(self) -> None:
        """Interrupt what is speaking (nothing, if nothing is: the next
        message resets the reason)."""
        if self.engine is not None:
            self.stop_reason = "stop"
            await self.engine.interrupt()

    async def open_output(self) -> None:
        """An engine for ``loaded`` on the output speech-dispatcher chose."""
        exit_stack = contextlib.AsyncExitStack()
        try:
            self.engine = await exit_stack.enter_async_context(_engine(self))
        except BaseException:
            await exit_stack.aclose()
            raise
        self._engine_exit = exit_stack

    async def close_output(self) -> None:
        exit_stack, self._engine_exit, self.engine = self._engine_exit, None, None
        if exit_stack is not None:
            await exit_stack.aclose()

    async def use_voice(self, name: str) -> None:
        """Speak the next message with voice ``name``: what is speaking
        stops, the voice is loaded (once per session; the first time takes
        a second or two), and a new engine opens on the same output. A
        voice that fails to load is logged, and the current one goes on."""
        current = self.loaded.name if self.loaded is not None else ""
        if name == current or name in self.unusable:
            return
        if self.speaking is not None and self.run_done is not None:
            await self.stop()
            with trio.move_on_after(2.0):
                await self.run_done.wait()
        voice = self.kept.get(name)
        if voice is None:
            source = next(v.source for v in self.voices if v.name == name)
            try:
                voice = await trio.to_thread.run_sync(_load, source)
            except Exception as err:
                _log.error("cannot load voice %s, keeping %s: %s", name, current, err)
                self.unusable.add(name)
                return
            self.kept[name] = voice
        had_output = self.engine is not None
        await self.close_output()
        self.loaded = voice  # loaded under its catalogue name: voice.name == name
        if had_output:
            await self.open_output()
        _log.info("voice: %s", name)

    def start_session(self, loaded: PiperVoice) -> None:
        """INIT succeeded: the voice catalogue, with the loaded voice in it."""
        self.loaded, self.home = loaded, loaded.name
        self.kept[loaded.name] = loaded
        self.voices = catalogue()
        if all(voice.name != loaded.name for voice in self.voices):
            source = self.voice or loaded.name
            self.voices.append(ModuleVoice(loaded.name, language_of(loaded.name), source))


async def _bytes_out(stream: trio.abc.SendStream, out: trio.MemoryReceiveChannel[bytes]) -> None:
    async for data in out:
        await stream.send_all(data)


def audio_message(samples: np.ndarray, rate_hz: int) -> bytes:
    """A ``705 AUDIO`` message: s16le samples for speech-dispatcher to play,
    newlines and escapes in the data HDLC-escaped as its module_process.c does."""
    data = float_to_s16(samples)
    escaped = data.replace(b"\x7d", b"\x7d\x5d").replace(b"\n", b"\x7d\x2a")
    header = (
        f"705-bits=16\n705-num_channels=1\n705-sample_rate={rate_hz}\n"
        f"705-num_samples={samples.size}\n705-big_endian=0\n705-AUDIO"
    ).encode()
    return header + b"\x00" + escaped + b"\n705 AUDIO\n"


# In small messages: speech-dispatcher starts playing a message once it has
# it whole, so a chunk's first 23 ms need not wait for its last.
_SERVER_AUDIO_SAMPLES = 512
# How far ahead of the server's playing the module sends. The server's
# reader thread blocks once its play queue holds MaxQueueSize samples
# (10000 by default, 0.45 s at 22.05 kHz), and while it is blocked it
# answers no client; a few blocks ahead keep it fed and never full.
_SERVER_LEAD_S = 0.15


class ServerAudio(Sink):
    """Audio to speech-dispatcher, which plays it (with the marks and events,
    in order) on its own output and reports each mark when it is reached.

    Sent at the pace it plays, ``lead_s`` ahead: the server holds little,
    so a STOP leaves little to discard and the server never stalls on a
    full queue. The pace restarts whenever the server must have run dry
    (an utterance's start, a pause in the text) and at every interrupt.
    A mark goes out between the messages around its place: each message
    counts as heard once sent, and the mark's task runs before the next.
    """

    def __init__(self, out: trio.MemorySendChannel[bytes], lead_s: float = _SERVER_LEAD_S) -> None:
        super().__init__()
        self.out = out
        self.lead_s = lead_s
        self._since = 0.0  # when the server started playing what we count
        self._sent_s = 0.0  # audio sent since then

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        rate = self.sample_rate_hz
        for start in range(0, samples.size, _SERVER_AUDIO_SAMPLES):
            piece = samples[start : start + _SERVER_AUDIO_SAMPLES]
            now = trio.current_time()
            ahead = self._since + self._sent_s - now
            if ahead <= 0.0:  # played out: a new run starts now
                self._since, self._sent_s = now, 0.0
            elif ahead > self.lead_s:
                await trio.sleep(ahead - self.lead_s)
            await self.out.send(audio_message(piece, rate))
            self._sent_s += piece.size / rate
            self._count(int(piece.size))
            await trio.lowlevel.checkpoint()  # a mark reached here goes out now

    async def interrupt(self) -> None:
        self._since, self._sent_s = 0.0, 0.0  # the server drops what it holds
        await super().interrupt()


@contextlib.asynccontextmanager
async def _engine(module: Module) -> AsyncIterator[Engine]:
    assert module.loaded is not None  # INIT came first
    sink: Sink
    if module.server_audio:
        sink = ServerAudio(module.out)
    else:
        from ..sinks.soundcard import SoundCardSink

        # 20 ms asked of PortAudio: first sound 105-117 ms after spd-say
        # (50 ms: 142-152 ms); the rest is the ALSA-to-PulseAudio path.
        sink = SoundCardSink(latency_s=float(os.environ.get("STREAMTTS_SPEECHD_LATENCY", "0.02")))
    async with open_engine(
        module.loaded, sink, options=EngineOptions(trim_lead_in=True), on_event=module.on_event
    ) as engine:
        yield engine


async def serve(voice: str | None = None) -> int:
    """Run the module on this process's standard input and output."""
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    stdout = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))
    out_send, out_receive = trio.open_memory_channel[bytes](64)
    module = Module(out_send, voice)
    protocol = ModuleProtocol()
    async with stdin, stdout, trio.open_nursery() as nursery:
        module.nursery = nursery
        nursery.start_soon(_bytes_out, stdout, out_receive)
        try:
            while data := await stdin.receive_some(65536):
                for item in protocol.feed(data):
                    if isinstance(item, str):
                        module.send(item)
                        continue
                    if item.name == "QUIT":
                        module.send("210 OK QUIT")
                        await trio.sleep(0.05)  # let the reply out
                        nursery.cancel_scope.cancel()
                        return 0
                    if item.name == "INIT":
                        try:
                            module.loaded = await trio.to_thread.run_sync(_load, module.voice)
                        except Exception as err:  # say why on the protocol, then leave
                            message = str(_root_cause(err)).replace("\n", " ")
                            module.send(f"399-{message}\n399 ERR CANT INIT MODULE")
                            _log.error("cannot start: %s", message)
                            await trio.sleep(0.05)
                            nursery.cancel_scope.cancel()
                            return 1
                        module.start_session(module.loaded)
                        module.send(f"299-streamtts {module.loaded!r}")
                        module.send("299 OK LOADED SUCCESSFULLY")
                    elif item.name in ("SPEAK", "CHAR", "KEY", "SOUND_ICON"):
                        if module.loaded is None or not item.text.strip():
                            module.send("301 ERROR CANT SPEAK")
                            continue
                        settings = module.settings
                        wanted = choose(
                            module.voices, module.home, settings.voice_name, settings.language
                        )
                        await module.use_voice(wanted)
                        if module.engine is None:  # the output is known by now
                            try:
                                await module.open_output()
                            except Exception as err:
                                _log.error("cannot open the sound output: %s", _root_cause(err))
                                module.send("301 ERROR CANT SPEAK")
                                continue

                        done = trio.Event()

                        async def run(command: Command = item, done: trio.Event = done) -> None:
                            with trio.CancelScope() as scope:
                                module.speaking = scope
                                try:
                                    await module.speak(command)
                                finally:
                                    if module.speaking is scope:
                                        module.speaking = None
                                    done.set()

                        if module.speaking is not None:
                            await module.stop()
                        module.send("200 OK SPEAKING")  # the reply comes first, then events
                        module.send(event(701))
                        module.run_done = done
                        nursery.start_soon(run)
                    elif item.name == "STOP":
                        nursery.start_soon(module.stop)
                    elif item.name == "PAUSE":
                        module.pause_requested = module.speaking is not None
                    elif item.name == "SET":
                        ok = not item.bad and module.settings.update(item.settings)
                        module.send(
                            "203 OK SETTINGS RECEIVED"
                            if ok
                            else "303 ERROR INVALID PARAMETER OR VALUE"
                        )
                    elif item.name == "AUDIO":
                        method = item.settings.get("audio_output_method")
                        # speech-dispatcher asks every module to send it the
                        # audio (705 AUDIO) and plays it itself, marks in
                        # order; STREAMTTS_SPEECHD_OUTPUT=device plays on the
                        # sound card from the module instead.
                        to_device = os.environ.get("STREAMTTS_SPEECHD_OUTPUT") == "device"
                        if method == "server" and not to_device and module.engine is None:
                            module.server_audio = True
                        if module.loaded is not None and module.engine is None:
                            try:  # the output is known now: open it before any text
                                await module.open_output()
                            except Exception as err:
                                module.send(f"300-{_root_cause(err)}\n300 MODULE ERROR")
                                continue
                        module.send("203 OK AUDIO INITIALIZED")
                    elif item.name == "LOGLEVEL":
                        module.send("203 OK LOGLEVEL SET")
                    elif item.name == "DEBUG":
                        module.send("200 OK DEBUGGING ON")
                    elif item.name == "LIST VOICES":
                        _list_voices(module)
                    else:
                        module.send("300 ERR UNKNOWN COMMAND")
            nursery.cancel_scope.cancel()  # the server closed our input
        finally:
            await module.close_output()
    return 0


def _load(voice: str | None) -> PiperVoice:
    """The voice, loaded and warmed up: the first message pays nothing."""
    from ..synthesis import PiperCore
    from ..voices.registry import load_voice

    loaded = load_voice(voice)
    PiperCore(loaded).warm_up()
    return loaded


def _root_cause(error: BaseException) -> BaseException:
    """The error inside trio's exception groups: the one that says what to do."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _list_voices(module: Module) -> None:
    for voice in module.voices or catalogue():
        module.send(f"200-{voice.name}\t{voice.language}\tnone")
    module.send("200 OK VOICE LIST SENT")


def main() -> None:
    # speech-dispatcher passes the module's configuration file; its settings
    # stand for environment variables not already set.
    from pathlib import Path

    from .setup import read_module_config

    problems = []
    if len(sys.argv) > 1 and Path(sys.argv[1]).is_file():
        for name, value in read_module_config(Path(sys.argv[1])).items():
            if name.startswith("?"):
                problems.append(f"{sys.argv[1]}, {name[1:]}: not understood: {value.strip()}")
            else:
                os.environ.setdefault(name, value)
    level = os.environ.get("STREAMTTS_SPEECHD_LOG", "WARNING").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"log level {level!r} is not DEBUG, INFO, WARNING or ERROR")
        level = "WARNING"
    logging.basicConfig(
        level=level,
        format="sd_streamtts: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    for problem in problems:
        _log.warning("%s", problem)
    voice = os.environ.get("STREAMTTS_VOICE") or None
    sys.exit(trio.run(serve, voice))
