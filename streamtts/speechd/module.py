"""``sd_streamtts``: streamtts as a speech-dispatcher output module, a thin
shell over the conversation.

speech-dispatcher starts the module and talks to it on standard input and
output (``protocol.py`` parses it). Each ``SPEAK``, ``CHAR``, ``KEY`` or
``SOUND_ICON`` is an utterance that replaces the one speaking (the
conversation's ``replace`` rule); ``STOP`` interrupts, ``PAUSE`` stops at
the next mark. What the session has ``SET`` shapes each message
(``settings.py``); the speaker (``speaker.py``) keeps one warm engine per
voice on the output speech-dispatcher chose. Events: ``701 BEGIN`` as a
message starts, ``700 INDEX MARK`` when the audio at a ``<mark>`` is
heard, ``702 END``, or ``703 STOP`` after ``STOP`` (the server drops what
it holds; on the sound card, a 5 ms fade), or ``704 PAUSE`` after
``PAUSE``. Anything the module cannot do gets an error reply; it never
hangs the server.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import trio

from ..conversation import outputs
from ..conversation.core import Conversation, Rules
from ..conversation.inputs import ClientInput, Interrupt, PauseAtMark
from ..conversation.shell import ConversationShell
from ..errors import leaves
from .protocol import Command, ModuleProtocol, event
from .settings import Settings, speak_input
from .speaker import ModuleSpeaker
from .voices import catalogue, choose

__all__ = ["main", "serve"]

_log = logging.getLogger("streamtts.speechd")

# A new message replaces the one speaking; STOP and PAUSE end it.
SPEECHD_RULES = Rules(overlap="replace", max_text_chars=8 << 20)

_STOPPED = {"stop": event(703), "pause": event(704)}  # "replaced": the next 701 says it


class ModuleDoor:
    """speech-dispatcher's lines ⇄ the conversation (see the module docstring)."""

    def __init__(self, out: trio.MemorySendChannel[bytes], speaker: ModuleSpeaker) -> None:
        self.out = out
        self.speaker = speaker
        self.settings = Settings()
        self.status: int | None = None  # set when the session ends: the exit status
        self.handlers: dict[str, Callable[[Command], Awaitable[list[ClientInput]]]] = {
            "INIT": self._init,
            "SPEAK": self._speak,
            "CHAR": self._speak,
            "KEY": self._speak,
            "SOUND_ICON": self._speak,
            "STOP": self._stop,
            "PAUSE": self._pause,
            "SET": self._set,
            "AUDIO": self._audio,
            "LOGLEVEL": self._reply("203 OK LOGLEVEL SET"),
            "DEBUG": self._reply("200 OK DEBUGGING ON"),
            "LIST VOICES": self._list_voices,
            "QUIT": self._quit,
        }

    def send(self, line: str) -> None:
        try:
            self.out.send_nowait(line.encode() + b"\n")
        except trio.WouldBlock:  # pragma: no cover - the server is not reading at all
            _log.error("speech-dispatcher is not reading; dropped %r", line[:40])

    def write(self, report: outputs.ClientReport) -> None:
        """The conversation's reports as events, the moment they are made."""
        if isinstance(report, outputs.HeardMark):
            self.send(event(700, report.name))
        elif isinstance(report, outputs.Done):
            self.send(event(702))
        elif isinstance(report, outputs.Stopped):
            if report.reason in _STOPPED:
                self.send(_STOPPED[report.reason])
        elif isinstance(report, outputs.Error):
            _log.warning("could not speak: %s", report.refusal.message)
            self.send(event(702))

    async def inputs(self, stdin: trio.abc.ReceiveStream) -> AsyncIterator[ClientInput]:
        """The conversation's inputs, until QUIT, a failed INIT, or the end
        of our input (then ``status`` says how it ended)."""
        protocol = ModuleProtocol()
        while data := await stdin.receive_some(65536):
            for item in protocol.feed(bytes(data)):
                if isinstance(item, str):
                    self.send(item)
                    continue
                handler = self.handlers.get(item.name, self._unknown)
                for request in await handler(item):
                    yield request
                if self.status is not None:
                    return
        self.status = 0  # the server closed our input

    # -- commands ----------------------------------------------------------------------------

    async def _init(self, command: Command) -> list[ClientInput]:
        try:
            loaded = await self.speaker.init()
        except Exception as err:  # say why on the protocol, then leave
            message = str(_first(err)).replace("\n", " ")
            self.send(f"399-{message}\n399 ERR CANT INIT MODULE")
            _log.error("cannot start: %s", message)
            self.status = 1
            return []
        self.send(f"299-streamtts {loaded!r}")
        self.send("299 OK LOADED SUCCESSFULLY")
        return []

    async def _speak(self, command: Command) -> list[ClientInput]:
        speaker = self.speaker
        if speaker.loaded is None or not command.text.strip():
            self.send("301 ERROR CANT SPEAK")
            return []
        settings = self.settings
        voice = choose(speaker.voices, speaker.home, settings.voice_name, settings.language)
        if speaker.engine is None:  # the output is known by now
            try:
                await speaker.open_output()
            except Exception as err:
                _log.error("cannot open the sound output: %s", _first(err))
                self.send("301 ERROR CANT SPEAK")
                return []
        self.send("200 OK SPEAKING")  # the reply comes first, then events
        self.send(event(701))
        return [speak_input(command, settings, voice)]

    async def _stop(self, command: Command) -> list[ClientInput]:
        return [Interrupt("stop")]

    async def _pause(self, command: Command) -> list[ClientInput]:
        return [PauseAtMark()]

    async def _set(self, command: Command) -> list[ClientInput]:
        ok = not command.bad and self.settings.update(command.settings)
        self.send("203 OK SETTINGS RECEIVED" if ok else "303 ERROR INVALID PARAMETER OR VALUE")
        return []

    async def _audio(self, command: Command) -> list[ClientInput]:
        # speech-dispatcher asks every module to send it the audio (705
        # AUDIO) and plays it itself, marks in order; StreamttsOutput
        # "device" plays on the sound card from the module instead.
        speaker = self.speaker
        method = command.settings.get("audio_output_method")
        to_device = os.environ.get("STREAMTTS_SPEECHD_OUTPUT") == "device"
        if method == "server" and not to_device and speaker.engine is None:
            speaker.server_audio = True
        if speaker.loaded is not None and speaker.engine is None:
            try:  # the output is known now: open it before any text
                await speaker.open_output()
            except Exception as err:
                self.send(f"300-{_first(err)}\n300 MODULE ERROR")
                return []
        self.send("203 OK AUDIO INITIALIZED")
        return []

    async def _list_voices(self, command: Command) -> list[ClientInput]:
        for voice in self.speaker.voices or catalogue():
            self.send(f"200-{voice.name}\t{voice.language}\tnone")
        self.send("200 OK VOICE LIST SENT")
        return []

    async def _quit(self, command: Command) -> list[ClientInput]:
        self.status = 0
        return []

    async def _unknown(self, command: Command) -> list[ClientInput]:
        self.send("300 ERR UNKNOWN COMMAND")
        return []

    def _reply(self, line: str) -> Callable[[Command], Awaitable[list[ClientInput]]]:
        async def reply(command: Command) -> list[ClientInput]:
            self.send(line)
            return []

        return reply


def _first(error: BaseException) -> BaseException:
    """The error inside trio's exception groups: the one that says what to do."""
    return next(leaves(error))


async def _bytes_out(stream: trio.abc.SendStream, out: trio.MemoryReceiveChannel[bytes]) -> None:
    async with out:
        async for data in out:
            await stream.send_all(data)


async def serve(voice: str | None = None) -> int:
    """Run the module on this process's standard input and output."""
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    stdout = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))
    # Lines are small and the protocol answers one command at a time; audio
    # waits here (backpressure) when the server is slow to read.
    out_send, out_receive = trio.open_memory_channel[bytes](1024)
    async with stdin, stdout, trio.open_nursery() as nursery:
        nursery.start_soon(_bytes_out, stdout, out_receive)
        speaker = ModuleSpeaker(out_send, voice, nursery)
        door = ModuleDoor(out_send, speaker)
        shell = ConversationShell(Conversation(SPEECHD_RULES), write_now=door.write)
        speaker.on_event = shell.heard
        try:
            await shell.run(speaker, door.inputs(stdin))
        finally:
            with trio.CancelScope(shield=True):
                await speaker.close_output()
        if door.status == 0:
            door.send("210 OK QUIT")
        out_send.close()  # the writer sends what is queued, then ends
    return door.status or 0


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
