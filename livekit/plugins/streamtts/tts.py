"""``streamtts.TTS``: a LiveKit Agents TTS over the streamtts conversation core.

- ``stream()`` (what ``AgentSession`` uses) reads the LLM's text as it
  comes and streamtts's segmenter starts speaking at the first complete
  sentence or clause; ``flush()`` ends the segment's text (LiveKit drops
  text pushed after it), ``end_input()`` ends the stream.
- ``synthesize(text)`` speaks a whole text (a ``ChunkedStream``).
- Audio is pushed through the output emitter as it is made, at
  ``sample_rate`` (24 kHz by default, LiveKit's; resampled from the
  voice's with soxr), with a ``TimedString`` per spoken word (its start
  in seconds from the segment's first sample, its text with the
  punctuation after it), pushed when the word is heard, so LiveKit's
  transcript follows the speech (``aligned_transcript=True``).
- An agent's barge-in cancels the stream (``aclose``): the utterance is
  stopped where it is and nothing more of it is pushed.

In process (the default) every TTS object of the process shares one
loaded voice and one deadline scheduler (``streamtts.integrations.host``);
each stream is a session of its own, taken from a small pool. With
``url``, streams speak to ``streamtts serve``'s WebSocket door, one
pooled connection per concurrent stream, reconnecting when one is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass, replace
from typing import Any

from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    APIConnectionError,
    APIConnectOptions,
    APIError,
    tts,
    utils,
)
from livekit.agents.types import TimedString

from streamtts.config import EngineOptions
from streamtts.conversation.refusals import AT_CAPACITY, INTERNAL
from streamtts.conversation.requests import UtteranceRequest
from streamtts.errors import ConfigError
from streamtts.integrations.host import LocalHost, VoiceSpec, local_host
from streamtts.integrations.remote import RemoteUnavailable, connect
from streamtts.integrations.speech import (
    Speech,
    SpeechEnded,
    SpeechUtterance,
    SpokenAudio,
    SpokenWord,
)
from streamtts.text.options import TextOptions
from streamtts.voices.piper import PiperVoice

__all__ = ["TTS", "ChunkedStream", "SynthesizeStream"]

# LLM replies are mostly markdown; LiveKit strips most of it before the TTS.
AGENT_READING = TextOptions(format="markdown")
_IDLE_SESSIONS = 4  # sessions (or connections) kept for the next streams
_SILENCE_S = 0.01  # what a text with nothing to say yields (LiveKit retries none)


@dataclass(frozen=True)
class _Options:
    voice: VoiceSpec
    url: str | None
    token: str | None
    engine_options: EngineOptions | None
    reading: TextOptions
    speed: float


class TTS(tts.TTS):
    """streamtts for LiveKit Agents; see the module docstring.

    - ``voice``: a loaded ``PiperVoice``, an installed voice's name, a
      path, or None for the default voice (in process).
    - ``url`` (and ``token``): a ``streamtts serve`` (``ws://host:8000``).
    - ``engine_options``, ``text_options`` (markdown by default), ``speed``.
    - ``sample_rate``: of the audio frames (24000; 22050 is the default
      voice's own rate, passed through unchanged).
    """

    def __init__(
        self,
        *,
        voice: VoiceSpec = None,
        url: str | None = None,
        token: str | None = None,
        engine_options: EngineOptions | None = None,
        text_options: TextOptions | None = None,
        speed: float = 1.0,
        sample_rate: int = 24000,
        host: LocalHost | None = None,
    ) -> None:
        if url is not None and engine_options is not None:
            raise ConfigError("engine_options apply in process; a server has its own")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self._opts = _Options(
            voice, url, token, engine_options, text_options or AGENT_READING, speed
        )
        self._host = host
        self._idle: list[Speech] = []
        self._streams: weakref.WeakSet[SynthesizeStream] = weakref.WeakSet()
        self._closing: set[asyncio.Future[None]] = set()  # idle sessions being closed

    @property
    def model(self) -> str:
        voice = self._opts.voice
        if isinstance(voice, PiperVoice):
            return voice.name
        return "default" if voice is None else str(voice)

    @property
    def provider(self) -> str:
        return "streamtts"

    def update_options(self, *, speed: float | None = None) -> None:
        """The speaking rate of the streams started from now on."""
        if speed is not None:
            self._opts = replace(self._opts, speed=speed)
            self._drop_idle()  # a connection's speed is fixed when it opens

    def prewarm(self) -> None:
        """Start loading the voice and compiling the kernels; returns at once."""
        if self._opts.url is None:
            self._local().prewarm(self._opts.voice)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        stream = SynthesizeStream(tts=self, conn_options=conn_options)
        self._streams.add(stream)
        return stream

    async def aclose(self) -> None:
        for stream in list(self._streams):
            await stream.aclose()
        self._streams.clear()
        idle, self._idle = self._idle, []
        for speech in idle:
            await speech.aclose()

    # -- sessions ----------------------------------------------------------------------------

    def _local(self) -> LocalHost:
        if self._host is None:
            self._host = local_host()
        return self._host

    def request(self) -> UtteranceRequest:
        return UtteranceRequest(reading=self._opts.reading, rate=self._opts.speed)

    async def acquire(self, timeout_s: float) -> Speech:
        """A session (or connection) with nothing in it, from the pool or new."""
        while self._idle:
            speech = self._idle.pop()
            if speech.usable and speech.idle:
                return speech
            await speech.aclose()
        opts = self._opts
        try:
            if opts.url is None:
                channel: Any = await self._local().open_channel(
                    opts.voice, opts.engine_options, opts.reading
                )
            else:
                channel = await connect(
                    opts.url,
                    token=opts.token,
                    text_format=opts.reading.format,
                    speed=opts.speed,
                    open_timeout_s=timeout_s,
                )
        except RemoteUnavailable as err:
            raise APIConnectionError(str(err)) from err
        return Speech(channel, sample_rate_hz=self.sample_rate, request=self.request())

    async def release(self, speech: Speech) -> None:
        if speech.usable and speech.idle and len(self._idle) < _IDLE_SESSIONS:
            self._idle.append(speech)
        else:
            await speech.aclose()

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for speech in idle:
            closing = asyncio.ensure_future(speech.aclose())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)


class _Words:
    """Each heard word as a ``TimedString``: the text from the end of the
    one before to the next word's start (its punctuation and space)."""

    def __init__(self, utterance: SpeechUtterance) -> None:
        self.utterance = utterance
        self.cut = 0  # text given out so far

    def timed(self, word: SpokenWord) -> TimedString:
        text = self.utterance.text
        end = max(word.text_end, self.cut)
        while end < len(text) and not text[end].isalnum():
            end += 1
        piece, self.cut = text[self.cut : end], end
        return TimedString(piece, start_time=word.start_s)

    def rest(self) -> TimedString | None:
        text = self.utterance.text
        piece, self.cut = text[self.cut :], len(text)
        return TimedString(piece) if piece else None


async def _emit(
    utterance: SpeechUtterance, emitter: tts.AudioEmitter, sample_rate: int
) -> SpeechEnded:
    """The utterance's audio and words into ``emitter``, until it ends."""
    words = _Words(utterance)
    pushed = 0
    async for event in utterance.events():
        if isinstance(event, SpokenAudio):
            emitter.push(event.pcm16())
            pushed += event.samples.size
        elif isinstance(event, SpokenWord):
            emitter.push_timed_transcript(words.timed(event))
        elif isinstance(event, SpeechEnded):
            if event.error is not None:
                retry = event.error.code in (AT_CAPACITY, INTERNAL) and pushed == 0
                raise APIError(event.error.message, retryable=retry)
            rest = words.rest()
            if rest is not None:
                emitter.push_timed_transcript(rest)
            if pushed == 0 and not event.interrupted:  # nothing to say: a moment of silence
                emitter.push(bytes(2 * round(_SILENCE_S * sample_rate)))
            return event
    raise APIError("the utterance ended without a word", retryable=False)  # pragma: no cover


async def _stop(utterance: SpeechUtterance | None) -> None:
    if utterance is not None and not utterance.closed:
        with contextlib.suppress(Exception):
            await utterance.interrupt()


class ChunkedStream(tts.ChunkedStream):
    """A whole text, spoken at once (``TTS.synthesize``)."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._streamtts = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        owner = self._streamtts
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=owner.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        speech = await owner.acquire(self._conn_options.timeout)
        utterance: SpeechUtterance | None = None
        try:
            utterance = await speech.say(self._input_text, owner.request())
            await _emit(utterance, output_emitter, owner.sample_rate)
        except BaseException:
            await _stop(utterance)
            raise
        finally:
            await owner.release(speech)


class SynthesizeStream(tts.SynthesizeStream):
    """Text as it comes (``TTS.stream``); one segment per stream, as LiveKit has it."""

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._streamtts = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        owner = self._streamtts
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=owner.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        first = await self._first_text()
        if first is None:
            return  # no text: nothing to say
        speech = await owner.acquire(self._conn_options.timeout)
        utterance: SpeechUtterance | None = None
        try:
            utterance = await speech.stream(owner.request())
            output_emitter.start_segment(segment_id=utils.shortuuid())
            await utterance.send(first)
            self._mark_started()
            feeding = asyncio.ensure_future(self._feed(utterance))
            try:
                await _emit(utterance, output_emitter, owner.sample_rate)
            finally:
                feeding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeding
            output_emitter.end_segment()
        except BaseException:
            await _stop(utterance)  # a barge-in (cancelled) or a failure: stop it now
            raise
        finally:
            await owner.release(speech)

    async def _first_text(self) -> str | None:
        async for item in self._input_ch:
            if isinstance(item, str):
                if item:
                    return item
            else:
                return None  # flushed before any text
        return None

    async def _feed(self, utterance: SpeechUtterance) -> None:
        """The rest of the text; a flush ends it (LiveKit drops text after one)."""
        async for item in self._input_ch:
            if not isinstance(item, str):
                break
            await utterance.send(item)
        await utterance.end()
