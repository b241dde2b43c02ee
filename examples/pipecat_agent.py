"""A Pipecat voice agent speaking with streamtts, no API key needed.

    pip install 'streamtts[pipecat]'
    python examples/pipecat_agent.py agent.wav            # in process
    python examples/pipecat_agent.py agent.wav ws://127.0.0.1:8000   # a `streamtts serve`

The pipeline is what a Pipecat agent runs, with two stand-ins: an LLM that
streams canned replies token by token (where your LLM service goes) and a
"speaker" that writes the audio to a WAV file and prints each word as it
is heard (where your transport goes):

    CannedLLM  →  StreamttsTTSService  →  WavSpeaker

The user asks two questions; the second reply is interrupted mid-sentence
(an ``InterruptionFrame``, as the user aggregator sends when the user
starts talking), and a third question follows at once. The audio is 16 kHz
(``audio_out_sample_rate``): the service resamples the voice's 22,050 Hz to
the pipeline's rate, as it would for 8 kHz telephony or 48 kHz WebRTC.
"""

from __future__ import annotations

import asyncio
import sys
import time
import wave

from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from streamtts.integrations.pipecat import StreamttsTTSService

REPLIES = {
    "When is the museum open?": "Sure! The museum opens at ten and closes at six, Tuesday "
    "through Sunday. On the first Friday of each month, entry is free after four.",
    "And how much are tickets?": "Tickets cost **fifteen dollars** for adults and eight for "
    "children. Members get in free, and they can bring one guest at half price, every day.",
    "Never mind, is there a cafe?": "Yes, on the second floor, next to the gift shop.",
}


class CannedLLM(FrameProcessor):
    """Stands in for an LLM service: answers each user transcription with a
    canned reply, a couple of words every 30 ms; stops when interrupted."""

    def __init__(self) -> None:
        super().__init__()
        self._reply: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self._reply = self.create_task(self._answer(REPLIES[frame.text]))
            return
        if isinstance(frame, InterruptionFrame) and self._reply is not None:
            await self.cancel_task(self._reply)
        await self.push_frame(frame, direction)

    async def _answer(self, reply: str) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        words = reply.split(" ")
        for i in range(0, len(words), 2):
            await asyncio.sleep(0.03)
            await self.push_frame(LLMTextFrame(" ".join(words[i : i + 2]) + " "))
        await self.push_frame(LLMFullResponseEndFrame())


class WavSpeaker(FrameProcessor):
    """Stands in for a transport: plays the audio in real time (into a WAV
    file), prints each word as it is heard and Pipecat's TTFB metric."""

    def __init__(self, path: str, rate: int) -> None:
        super().__init__()
        self.wav = wave.open(path, "wb")  # noqa: SIM115 - closed in close()
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(rate)
        self.started = time.perf_counter()
        self.playing_until = 0.0  # when the audio handed on so far ends
        self.reply_done = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        now = time.perf_counter()
        if isinstance(frame, TTSAudioRawFrame):
            # A frame plays when the one before it ends: wait for that, as a
            # sound card would (an interruption cancels the wait).
            await asyncio.sleep(max(0.0, self.playing_until - now))
            self.playing_until = (
                max(self.playing_until, now) + len(frame.audio) / 2 / frame.sample_rate
            )
            self.wav.writeframes(frame.audio)
        elif isinstance(frame, TTSTextFrame):
            if frame.pts:  # when the word is heard, on the pipeline's clock (as transports do)
                await asyncio.sleep(max(0.0, (frame.pts - self.get_clock().get_time()) / 1e9))
            print(f"{time.perf_counter() - self.started:6.2f} s  {frame.text}")
        elif isinstance(frame, InterruptionFrame):
            self.playing_until = now
            print(f"{now - self.started:6.2f} s  -- interrupted --")
        elif isinstance(frame, LLMFullResponseEndFrame):
            self.reply_done.set()
        elif isinstance(frame, MetricsFrame):
            for data in frame.data:
                if isinstance(data, TTFBMetricsData) and data.value:
                    print(f"{now - self.started:6.2f} s  (Pipecat TTFB {data.value * 1000:.0f} ms)")
        await self.push_frame(frame, direction)

    def close(self) -> None:
        self.wav.close()


async def main(path: str, url: str | None) -> None:
    rate = 16000
    tts = StreamttsTTSService(url=url)  # no arguments: the default voice, in this process
    speaker = WavSpeaker(path, rate)
    worker = PipelineWorker(
        Pipeline([CannedLLM(), tts, speaker]),
        params=PipelineParams(audio_out_sample_rate=rate, enable_metrics=True),
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.ensure_future(runner.run())

    async def user(text: str) -> None:
        print(f"{time.perf_counter() - speaker.started:6.2f} s  user: {text}")
        speaker.reply_done.clear()
        await worker.queue_frame(TranscriptionFrame(text, "user", ""))

    await asyncio.sleep(1.0)  # the pipeline starts (the voice loads meanwhile)
    await user("When is the museum open?")
    await asyncio.wait_for(speaker.reply_done.wait(), 30)
    await user("And how much are tickets?")
    await asyncio.sleep(3.0)  # the user talks over the reply
    await worker.queue_frame(InterruptionFrame())
    await user("Never mind, is there a cafe?")
    await asyncio.wait_for(speaker.reply_done.wait(), 30)
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(running, 30)
    speaker.close()
    print(f"audio: {path}")


if __name__ == "__main__":
    logger.remove()  # Pipecat logs every frame at DEBUG otherwise
    logger.add(sys.stderr, level="WARNING")
    out = sys.argv[1] if len(sys.argv) > 1 else "agent.wav"
    asyncio.run(main(out, sys.argv[2] if len(sys.argv) > 2 else None))
