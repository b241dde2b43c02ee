"""streamtts as a Pipecat TTS service: ``StreamttsTTSService``.

::

    from streamtts.integrations.pipecat import StreamttsTTSService

    tts = StreamttsTTSService()                        # the default voice, in this process
    tts = StreamttsTTSService(url="ws://tts-box:8000", token="s3cret")  # a `streamtts serve`

A thin shell over the conversation core (Pipecat's side of the wire is
its frames; ours is a :class:`~.speech.Speech`):

- **Text as it streams.** The service runs in Pipecat's token mode
  (``TextAggregationMode.TOKEN``): each ``LLMTextFrame`` goes straight to
  streamtts's segmenter, which starts speaking as soon as a sentence (or
  a first clause of three words) is complete, instead of waiting for
  Pipecat's sentence aggregator. A Pipecat audio context (one per LLM turn,
  one per ``TTSSpeakFrame``) is one utterance; the turn's end
  (``flush_audio``) ends its text.
- **Audio** comes as ``TTSAudioRawFrame`` at the pipeline's output rate
  (``PipelineParams(audio_out_sample_rate=...)``, or ``sample_rate=``):
  8, 16, 24 or 48 kHz are resampled from the voice's 22,050 Hz with
  soxr's stream resampler, one stream per utterance.
- **Words**: each word's timestamp goes through the base class's
  ``add_word_timestamps`` when the word is heard, in seconds from the
  context's first audio, so Pipecat emits a ``TTSTextFrame`` per word as
  the listener hears it, and an interrupted turn's transcript holds only
  the words played.
- **Interruption**: Pipecat drops the context and calls
  ``on_audio_context_interrupted``; the utterance is stopped where it is
  (mid-chunk) and nothing of it is appended after; the engine takes the
  next turn at once. Contexts marked uninterruptible go on (in process;
  over the WebSocket an interrupt stops every unfinished utterance). A
  context Pipecat ends on its own (``on_audio_context_completed``: no
  frame for ``stop_frame_timeout_s``, as when tokens still in flight at an
  interruption open a context no turn end closes) ends its utterance's text.
- **Metrics**: TTFB (first ``run_tts`` of a context to its first audio
  frame), TTFA and usage characters, from the base class.

In process, every service of the process shares one loaded voice and one
deadline scheduler (:func:`~.host.local_host`); each service is a session
with its own bounded pipeline. With ``url``, the same service speaks to
``streamtts serve``'s WebSocket door and reconnects when the connection is
lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TextAggregationMode, TTSService
from pipecat.utils.types import NOT_GIVEN, NotGiven

from ..config import EngineOptions
from ..conversation.requests import UtteranceRequest
from ..errors import ConfigError
from ..text.options import TextOptions
from ..voices.piper import PiperVoice
from .host import LocalHost, VoiceSpec, local_host
from .remote import RemoteUnavailable, connect
from .speech import Speech, SpeechEnded, SpeechUtterance, SpokenAudio, SpokenWord

__all__ = ["StreamttsTTSService", "StreamttsTTSSettings"]

# LLM replies are mostly markdown; plain prose reads the same either way.
AGENT_READING = TextOptions(format="markdown")


@dataclass
class StreamttsTTSSettings(TTSSettings):
    """Runtime-updatable settings: ``voice`` (a name or path; in process a
    new voice is loaded for the next turn), ``speed`` (0.25-4)."""

    speed: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)


class StreamttsTTSService(TTSService):
    """streamtts in a Pipecat pipeline; see the module docstring.

    - ``voice``: a loaded :class:`~streamtts.PiperVoice`, an installed
      voice's name, a path, or None for the default voice.
    - ``url`` (and ``token``): speak to ``streamtts serve`` instead of in
      this process (``ws://host:8000`` or ``http://host:8000``).
    - ``engine_options``: in process, how the engine runs (a seed, chunk
      sizes, gain...); ``text_options``: how text is read (markdown by
      default; over the WebSocket only the format travels).
    - ``speed``: speaking rate (1.0 = the voice's pace).
    - ``host``: the :class:`~.host.LocalHost` to use (default: the process's).

    Other keyword arguments go to Pipecat's ``TTSService`` (``sample_rate``,
    ``name``...).
    """

    Settings = StreamttsTTSSettings
    _settings: StreamttsTTSSettings

    def __init__(
        self,
        *,
        voice: VoiceSpec = None,
        url: str | None = None,
        token: str | None = None,
        engine_options: EngineOptions | None = None,
        text_options: TextOptions | None = None,
        speed: float = 1.0,
        host: LocalHost | None = None,
        settings: StreamttsTTSSettings | None = None,
        **kwargs: Any,
    ) -> None:
        if url is not None and engine_options is not None:
            raise ConfigError("engine_options apply in process; a server has its own")
        name = voice.name if isinstance(voice, PiperVoice) else voice
        store = StreamttsTTSSettings(
            model=None, voice=None if name is None else str(name), language=None, speed=speed
        )
        if settings is not None:
            store.apply_update(settings)
        # Every context here ends with its utterance (a TTSStoppedFrame); the
        # timeout only closes one that nothing will end. Pipecat's 3 s also
        # ends a context whose first audio is late, as on a busy CPU after a
        # long queue of contexts: its audio would then be dropped.
        kwargs.setdefault("stop_frame_timeout_s", 10.0)
        super().__init__(
            text_aggregation_mode=TextAggregationMode("token"),
            push_start_frame=True,
            push_stop_frames=False,
            push_text_frames=False,
            settings=store,
            **kwargs,
        )
        self._voice = voice
        self._url = url
        self._token = token
        self._engine_options = engine_options
        self._reading = text_options or AGENT_READING
        self._host = host
        self._speech: Speech | None = None
        self._reopen = False  # the voice changed: a new session for the next turn
        self._utterances: dict[str, SpeechUtterance] = {}
        self._players: dict[str, asyncio.Task[None]] = {}
        if url is None:
            self._local().prewarm(voice)  # the voice loads while the pipeline is built

    def can_generate_metrics(self) -> bool:
        return True

    def _local(self) -> LocalHost:
        if self._host is None:
            self._host = local_host()
        return self._host

    # -- lifetime --------------------------------------------------------------------------

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        try:
            await self._ensure_speech()
        except Exception as err:  # a turn will try again
            await self.push_error(f"{self}: {err}", exception=err)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)  # plays out what is queued first
        await self._close()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._close()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._close()

    async def _close(self) -> None:
        players, self._players = list(self._players.values()), {}
        for task in players:
            await self.cancel_task(task)
        self._utterances.clear()
        speech, self._speech = self._speech, None
        if speech is not None:
            await speech.aclose()

    async def _ensure_speech(self) -> Speech:
        speech = self._speech
        if speech is not None and speech.usable and not (self._reopen and speech.idle):
            return speech
        if speech is not None:
            self._speech = None
            await speech.aclose()
        self._reopen = False
        try:
            if self._url is None:
                named = self._settings.voice
                voice = self._voice or (named if isinstance(named, str) else None)
                channel: Any = await self._local().open_channel(
                    voice, self._engine_options, self._reading
                )
            else:
                channel = await connect(
                    self._url,
                    token=self._token,
                    text_format=self._reading.format,
                    speed=self._speed(),
                )
        except RemoteUnavailable as err:
            await self._call_event_handler("on_connection_error", str(err))
            raise
        if self._url is not None:
            await self._call_event_handler("on_connected")
        self._speech = Speech(channel, sample_rate_hz=self.sample_rate)
        return self._speech

    def _speed(self) -> float:
        speed = self._settings.speed
        return float(speed) if isinstance(speed, (int, float)) else 1.0

    async def _update_settings(self, delta: TTSSettings) -> dict[str, Any]:  # type: ignore[override]
        changed = await super()._update_settings(delta)
        if "voice" in changed:
            self._voice = None  # the setting names it from now on
            self._reopen = True
        if "speed" in changed and self._url is not None:
            self._reopen = True  # the connection's query carries it
        self._warn_unhandled_updated_settings(set(changed) - {"voice", "speed"})
        return changed

    # -- Pipecat's TTS contract --------------------------------------------------------------

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Feed a token (or a ``TTSSpeakFrame``'s text) to the context's
        utterance; its audio arrives through the audio context."""
        try:
            utterance = self._utterances.get(context_id)
            if utterance is None:
                speech = await self._ensure_speech()
                request = UtteranceRequest(reading=self._reading, rate=self._speed())
                utterance = await speech.stream(request)
                self._utterances[context_id] = utterance
                self._players[context_id] = self.create_task(
                    self._play(context_id, utterance), f"{self}::play"
                )
            await utterance.send(text)
        except Exception as err:
            yield ErrorFrame(error=f"{self}: {err}")
            return
        yield None

    async def flush_audio(self, context_id: str | None = None) -> None:
        """The context's text is complete (the turn ended)."""
        if context_id is None and self._utterances:
            context_id = next(reversed(self._utterances))
        utterance = self._utterances.get(context_id or "")
        if utterance is not None:
            await utterance.end()

    async def on_audio_context_interrupted(self, context_id: str) -> None:
        """Barge-in: stop the context's utterance where it is."""
        self._players.pop(context_id, None)  # ends with its utterance's events
        utterance = self._utterances.pop(context_id, None)
        if utterance is not None:
            await utterance.interrupt()

    async def on_audio_context_completed(self, context_id: str) -> None:
        """Pipecat has played all it will of the context: its audio ended, or
        nothing came for ``stop_frame_timeout_s`` (tokens that reached us
        after an interruption open a context no turn end closes). Its
        utterance's text ends here, so it cannot hold up the next turn's."""
        utterance = self._utterances.pop(context_id, None)
        if utterance is not None and not utterance.closed:
            await utterance.end()

    async def _play(self, context_id: str, utterance: SpeechUtterance) -> None:
        """The utterance's events into its audio context, in order."""
        try:
            async for event in utterance.events():
                if isinstance(event, SpokenAudio):
                    frame = TTSAudioRawFrame(
                        event.pcm16(), self.sample_rate, 1, context_id=context_id
                    )
                    await self.append_to_audio_context(context_id, frame)
                elif isinstance(event, SpokenWord):
                    words = [(word, event.start_s) for word in event.word.split()]
                    await self.add_word_timestamps(words, context_id)
                elif self._utterances.get(context_id) is utterance:
                    await self._ended(context_id, event)  # ended, and Pipecat still waits for it
        finally:
            if self._utterances.get(context_id) is utterance:
                del self._utterances[context_id]
            self._players.pop(context_id, None)

    async def _ended(self, context_id: str, event: SpeechEnded) -> None:
        if event.error is not None:
            logger.warning(f"{self}: {event.error.message}")
            await self.push_error(f"{self}: {event.error.message}")
        if self.audio_context_available(context_id):
            await self.append_to_audio_context(context_id, TTSStoppedFrame(context_id=context_id))
            await self.remove_audio_context(context_id)
