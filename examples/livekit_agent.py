"""A LiveKit Agents session speaking with streamtts, no API key or server needed.

    pip install 'streamtts[livekit]'
    python examples/livekit_agent.py agent.wav            # in process
    python examples/livekit_agent.py agent.wav ws://127.0.0.1:8000   # a `streamtts serve`

A real ``AgentSession`` runs here as in a room, with two stand-ins: the
LLM is a generator streaming canned tokens (where your LLM goes; the
session hands them to ``streamtts.TTS().stream()`` as they come), and the
room's audio output is a "speaker" that plays the frames in real time into
a WAV file. LiveKit's transcript synchronizer prints each word as its
audio plays, from the timestamps the plugin gives each word
(``aligned_transcript``). The second reply is cut off by
``session.interrupt()`` (what a user's barge-in does); the third follows.

In a LiveKit worker, the plugin is one line of the session::

    from livekit.plugins import streamtts

    session = AgentSession(stt=..., llm=..., vad=..., tts=streamtts.TTS())
"""

from __future__ import annotations

import asyncio
import sys
import time
import wave
from collections.abc import AsyncIterator

from livekit.agents import Agent, AgentSession
from livekit.agents.voice.io import AudioOutput, AudioOutputCapabilities, TextOutput
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer

from livekit import rtc
from livekit.plugins import streamtts

RATE = 24000
STARTED = time.perf_counter()


def say(text: str) -> None:
    print(f"{time.perf_counter() - STARTED:6.2f} s  {text}", flush=True)


class WavSpeaker(AudioOutput):
    """Stands in for the room: plays frames in real time into a WAV file and
    tells the session where playback is (started, finished, cut short)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            label="wav", capabilities=AudioOutputCapabilities(pause=False), sample_rate=RATE
        )
        self.wav = wave.open(path, "wb")  # noqa: SIM115 - closed in close()
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(RATE)
        self.started_at = 0.0
        self.pushed_s = 0.0  # of the segment playing
        self.finishing: asyncio.TimerHandle | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self.pushed_s:
            self.started_at = time.time()
            self.on_playback_started(created_at=self.started_at)
        self.pushed_s += frame.duration
        self.wav.writeframes(bytes(frame.data))

    def flush(self) -> None:
        super().flush()
        if self.pushed_s:
            left = self.pushed_s - (time.time() - self.started_at)
            self.finishing = asyncio.get_running_loop().call_later(max(0.0, left), self._done)

    def _done(self, interrupted: bool = False) -> None:
        played = min(self.pushed_s, time.time() - self.started_at)
        self.pushed_s, self.finishing = 0.0, None
        self.on_playback_finished(
            playback_position=played, interrupted=interrupted, synchronized_transcript=None
        )

    def clear_buffer(self) -> None:
        if self.finishing is not None:
            self.finishing.cancel()
        if self.pushed_s:
            self._done(interrupted=True)


class PrintedWords(TextOutput):
    def __init__(self) -> None:
        super().__init__(label="words", next_in_chain=None)

    async def capture_text(self, text: str) -> None:
        if text.strip():
            say(text.strip())

    def flush(self) -> None:
        pass


async def llm(reply: str) -> AsyncIterator[str]:
    """Stands in for an LLM: a couple of words every 30 ms."""
    words = reply.split(" ")
    for i in range(0, len(words), 2):
        await asyncio.sleep(0.03)
        yield " ".join(words[i : i + 2]) + " "


async def main(path: str, url: str | None) -> None:
    tts = streamtts.TTS(url=url, sample_rate=RATE)
    session = AgentSession(tts=tts, use_tts_aligned_transcript=True)
    speaker = WavSpeaker(path)
    synchronizer = TranscriptSynchronizer(
        next_in_chain_audio=speaker, next_in_chain_text=PrintedWords()
    )
    session.output.audio = synchronizer.audio_output
    session.output.transcription = synchronizer.text_output
    await session.start(Agent(instructions="You answer questions about the museum."))

    say("user: When is the museum open?")
    await session.say(
        llm(
            "Sure! The museum opens at ten and closes at six, Tuesday through Sunday. "
            "On the first Friday of each month, entry is free after four."
        )
    )
    say("user: And how much are tickets?")
    reply = session.say(
        llm(
            "Tickets cost fifteen dollars for adults and eight for children. Members get "
            "in free, and they can bring one guest at half price, every day of the week."
        )
    )
    await asyncio.sleep(3.0)  # the user talks over the reply
    say("-- interrupted --")
    session.interrupt()
    await reply
    say("user: Never mind, is there a cafe?")
    await session.say(llm("Yes, on the second floor, next to the gift shop."))
    await session.aclose()
    await tts.aclose()
    speaker.wav.close()
    say(f"audio: {path}")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "agent.wav"
    asyncio.run(main(out, sys.argv[2] if len(sys.argv) > 2 else None))
