"""The module's speaker: one warm engine on the output speech-dispatcher
chose, for the voice each message asks for.

At ``INIT`` the session's own voice is loaded and warmed (the first message
pays nothing); at ``AUDIO`` the output opens: speech-dispatcher itself
(``705 AUDIO`` messages, :class:`~.audio.ServerAudio`) or the sound card
(``StreamttsOutput "device"``). A message for another voice stops what is
speaking, loads that voice (once per session) and opens a new engine on
the same output. Each engine runs in its own task (trio's nursery start),
so any task may switch voices or close it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import trio

from ..config import EngineOptions
from ..conversation.refusals import INTERNAL, Refusal
from ..conversation.requests import UtteranceRequest
from ..engine import Engine, Utterance, run_engine
from ..events import Event
from ..sinks.base import Sink
from ..synthesis import load_warm_voice
from ..voices.options import VoiceOptions
from ..voices.piper import PiperVoice
from .audio import ServerAudio
from .voices import ModuleVoice, catalogue, language_of

__all__ = ["ModuleSpeaker"]

_log = logging.getLogger("streamtts.speechd")


class ModuleSpeaker:
    """See the module docstring. ``on_event`` hears every engine's events."""

    def __init__(
        self,
        out: trio.MemorySendChannel[bytes],
        voice: str | None,
        nursery: trio.Nursery,
    ) -> None:
        self.out = out
        self.voice = voice  # the session's own voice as configured (None: the default)
        self.voice_options = VoiceOptions()  # set at INIT, from StreamttsPrecision
        self.nursery = nursery
        self.on_event: Callable[[Event], None] | None = None  # the conversation shell's
        self.loaded: PiperVoice | None = None  # the voice speaking now
        self.home = ""  # the session's own voice: the one INIT loaded
        self.voices: list[ModuleVoice] = []  # what LIST VOICES offers
        self.kept: dict[str, PiperVoice] = {}  # voices loaded so far, by name
        self.unusable: set[str] = set()  # voices that failed to load: not tried again
        self.server_audio = False  # speech-dispatcher plays our audio (705 AUDIO)
        self.engine: Engine | None = None

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    async def init(self) -> PiperVoice:
        """Load and warm the session's voice; raises what went wrong."""
        # StreamttsPrecision (the environment, or the module's file); the
        # threads are read from STREAMTTS_ORT_THREADS (StreamttsThreads).
        precision = os.environ.get("STREAMTTS_PRECISION", "fp32")
        self.voice_options = VoiceOptions(precision=precision)  # type: ignore[arg-type]
        loaded = await trio.to_thread.run_sync(load_warm_voice, self.voice, self.voice_options)
        self.loaded, self.home = loaded, loaded.name
        self.kept[loaded.name] = loaded
        self.voices = catalogue()
        if all(voice.name != loaded.name for voice in self.voices):
            source = self.voice or loaded.name
            self.voices.append(ModuleVoice(loaded.name, language_of(loaded.name), source))
        return loaded

    async def open_output(self) -> None:
        """An engine for the current voice on the output speech-dispatcher chose."""
        assert self.loaded is not None  # INIT came first
        sink: Sink
        if self.server_audio:
            sink = ServerAudio(self.out)
        else:
            from ..sinks.soundcard import SoundCardSink

            # 20 ms asked of PortAudio: first sound 105-117 ms after spd-say
            # (50 ms: 142-152 ms); the rest is the ALSA-to-PulseAudio path.
            latency = float(os.environ.get("STREAMTTS_SPEECHD_LATENCY", "0.02"))
            sink = SoundCardSink(latency_s=latency)
        options = EngineOptions(trim_lead_in=True)
        self.engine = await self.nursery.start(run_engine, self.loaded, sink, options, self._emit)

    async def close_output(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.aclose()

    async def use_voice(self, name: str) -> None:
        """Speak the next message with voice ``name`` (see the module docstring).
        A voice that fails to load is logged, and the current one goes on."""
        current = self.loaded.name if self.loaded is not None else ""
        if name == current or name in self.unusable:
            return
        voice = self.kept.get(name)
        if voice is None:
            source = next(v.source for v in self.voices if v.name == name)
            try:
                voice = await trio.to_thread.run_sync(load_warm_voice, source, self.voice_options)
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

    async def open(self, uid: int, request: UtteranceRequest, nursery: trio.Nursery) -> Utterance:
        if request.voice is not None:
            await self.use_voice(request.voice)
        if self.engine is None:
            try:
                await self.open_output()
            except Exception as err:
                raise Refusal(INTERNAL, f"cannot open the sound output: {err}") from err
        assert self.engine is not None
        utterance: Utterance = await nursery.start(
            self.engine.utterance, request.reading, request.rate
        )
        return utterance
