"""``StreamttsTTSService`` in real Pipecat 1.14 pipelines, driven with
Pipecat's own test utilities (``run_test``: a source, the service, a sink,
in a ``PipelineWorker``), in process and against a real ``streamtts
serve`` on loopback. Every run is bounded in time."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from streamtts import EngineOptions, PiperVoice, SynthesisOptions

from .agent_harness import (
    LONG_REPLY,
    NEXT,
    RATE,
    REPLY,
    SEED,
    TEXT,
    TOKEN,
    WHISPER_SENTENCES,
    Served,
    correlation_at,
    reference,
    s16,
    same_audio,
    same_words,
    start_server,
    stop_server,
    tokens,
    whisper_errors,
)

pytest.importorskip("pipecat")

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData, TTSUsageMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import SleepFrame, run_test

from streamtts.integrations.pipecat import StreamttsTTSService

logger.remove()  # Pipecat logs every frame at DEBUG to stderr otherwise

TIMEOUT_S = 60


class WordSpy(StreamttsTTSService):
    """The service, noting what it hands the base class's word-timestamp API."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.words: list[tuple[str, str, float]] = []  # (context, word, seconds)

    async def add_word_timestamps(  # type: ignore[override]
        self, word_times: list[tuple[str, float]], context_id: str | None = None, **kwargs: Any
    ) -> None:
        self.words += [(context_id or "", word, at) for word, at in word_times]
        await super().add_word_timestamps(word_times, context_id, **kwargs)


class Clock(BaseObserver):
    """When each frame went into the service and came out of it."""

    def __init__(self, service: StreamttsTTSService) -> None:
        super().__init__()
        self.service = service
        self.into: list[tuple[float, Frame]] = []
        self.out: list[tuple[float, Frame]] = []

    async def on_push_frame(self, data: FramePushed) -> None:
        if data.direction != FrameDirection.DOWNSTREAM:
            return
        if data.destination is self.service:
            self.into.append((time.perf_counter(), data.frame))
        elif data.source is self.service:
            self.out.append((time.perf_counter(), data.frame))


@pytest.fixture(scope="module")
def served(cache_dir: object) -> Iterator[Served]:
    running = start_server()
    yield running
    assert stop_server(running) == 0


@pytest.fixture(params=["in process", "remote"])
def make(request: pytest.FixtureRequest, voice: PiperVoice):  # type: ignore[no-untyped-def]
    """The same service class, in process (seeded) or against the server."""

    def service(**kwargs: Any) -> WordSpy:
        if request.param == "remote":
            url = request.getfixturevalue("served").url
            return WordSpy(url=url, token=TOKEN, **kwargs)
        options = EngineOptions(synthesis=SynthesisOptions(seed=SEED))
        return WordSpy(voice=voice, engine_options=options, **kwargs)

    return service


def run(
    service: StreamttsTTSService, frames: list[Frame], rate: int = RATE
) -> tuple[list[Frame], Clock]:
    clock = Clock(service)
    params = PipelineParams(
        enable_metrics=True,
        enable_usage_metrics=True,
        report_only_initial_ttfb=False,
        audio_out_sample_rate=rate,
    )

    async def go() -> list[Frame]:
        down, _up = await run_test(
            service, frames_to_send=frames, pipeline_params=params, observers=[clock],
            start_timeout=30,
        )  # fmt: skip
        return list(down)

    return asyncio.run(asyncio.wait_for(go(), TIMEOUT_S)), clock


def audio_by_context(frames: list[Frame]) -> dict[str, np.ndarray]:
    audio: dict[str, list[bytes]] = {}
    for frame in frames:
        if isinstance(frame, TTSAudioRawFrame):
            audio.setdefault(frame.context_id or "", []).append(frame.audio)
    return {context: s16(b"".join(parts)) for context, parts in audio.items()}


@pytest.fixture(scope="module")
def references(voice: PiperVoice) -> dict[str, tuple[np.ndarray, list[tuple[str, float]]]]:
    texts = [TEXT, REPLY, NEXT, LONG_REPLY, *WHISPER_SENTENCES]
    return {text: reference(voice, text) for text in texts}


def test_importing_streamtts_imports_no_framework() -> None:
    probe = "import sys, streamtts, streamtts.integrations.host; " + (
        "print([m for m in sys.modules if m.split('.')[0] in ('pipecat', 'livekit')])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_speak_frames_equal_the_cli_with_a_timestamp_per_heard_word(
    make,
    references,
    whisper,  # type: ignore[no-untyped-def]
) -> None:
    service = make()
    texts = [TEXT, *WHISPER_SENTENCES]
    frames, _clock = run(service, [TTSSpeakFrame(text) for text in texts])
    audio = audio_by_context(frames)
    contexts = list(audio)  # in the order they played
    assert len(contexts) == len(texts)
    heard = []
    for context, text in zip(contexts, texts, strict=True):
        want_audio, want_words = references[text]
        same_audio(audio[context], want_audio)  # = `streamtts speak --seed 7`
        words = [(w, t) for c, w, t in service.words if c == context]
        # "of the" is one spoken word: both written words carry its start
        want = [(w, t) for text_, t in want_words for w in text_.split()]
        same_words(words, want)
        heard.append((audio[context].astype(np.float32) / 32767, want_words))
    # Pipecat turns each into a TTSTextFrame, in order, timed by its audio
    spoken = [f for f in frames if isinstance(f, TTSTextFrame)]
    assert [f.text for f in spoken] == [w for _c, w, _t in service.words]
    for context in contexts:
        pts = [f.pts for f in spoken if f.context_id == context]
        assert pts == sorted(pts) and all(pts)
    ttfb = [d.value for f in frames if isinstance(f, MetricsFrame) for d in f.data
            if isinstance(d, TTFBMetricsData) and d.value > 0]  # fmt: skip
    assert ttfb  # Pipecat times one context at a time: these were queued together
    errors = whisper_errors(whisper, heard[1:])
    assert statistics.median(errors) <= 0.060, statistics.median(errors)


RATES = [8000, 16000, 24000, 48000]


@pytest.mark.parametrize("rate", RATES)
def test_llm_tokens_stream_at_the_pipelines_rate(
    make, references, rate: int, request: pytest.FixtureRequest
) -> None:  # type: ignore[no-untyped-def]
    if "remote" in request.node.name and rate != 16000:
        pytest.skip("the remote form is checked at one rate; resampling is the same code")
    service = make()
    frames: list[Frame] = [LLMFullResponseStartFrame()]
    for piece in tokens(REPLY, size=1):
        frames += [LLMTextFrame(piece), SleepFrame(0.04)]  # as an LLM writes
    frames.append(LLMFullResponseEndFrame())
    down, clock = run(service, frames, rate)
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert {f.sample_rate for f in audio} == {rate}
    first_audio = next(t for t, f in clock.out if isinstance(f, TTSAudioRawFrame))
    last_token = max(t for t, f in clock.into if isinstance(f, LLMTextFrame))
    assert first_audio < last_token  # speaking long before the reply is written
    got = s16(b"".join(f.audio for f in audio))
    assert correlation_at(got, references[REPLY][0], rate) >= 0.999
    usage = [d.value for f in down if isinstance(f, MetricsFrame) for d in f.data
             if isinstance(d, TTSUsageMetricsData)]  # fmt: skip
    assert usage == [len(REPLY)]
    ttfb = [d.value for f in down if isinstance(f, MetricsFrame) for d in f.data
            if isinstance(d, TTFBMetricsData) and d.value > 0]  # fmt: skip
    assert len(ttfb) == 1


def test_interruption_stops_the_turn_and_the_next_one_speaks(make, references) -> None:  # type: ignore[no-untyped-def]
    service = make()
    frames: list[Frame] = [LLMFullResponseStartFrame()]
    frames += [LLMTextFrame(piece) for piece in tokens(LONG_REPLY)]
    frames += [SleepFrame(1.5), InterruptionFrame(), SleepFrame(0.2), TTSSpeakFrame(NEXT)]
    down, clock = run(service, frames)
    cut = next(i for i, f in enumerate(down) if isinstance(f, InterruptionFrame))
    audio = audio_by_context(down[:cut])
    assert len(audio) == 1, "the turn spoke before the interruption"
    (turn,) = audio
    assert 0 < audio[turn].size < 0.8 * references[LONG_REPLY][0].size  # cut short
    after = [f for f in down[cut:] if isinstance(f, TTSAudioRawFrame)]
    assert after and all(f.context_id != turn for f in after)  # nothing of the old turn
    assert not [f for f in down[cut:] if isinstance(f, TTSTextFrame) and f.context_id == turn]
    same_audio(audio_by_context(down[cut:])[after[0].context_id or ""], references[NEXT][0])
    asked = next(t for t, f in clock.into if isinstance(f, TTSSpeakFrame))
    answered = next(
        t for t, f in clock.out if isinstance(f, TTSAudioRawFrame) and f.context_id != turn
    )
    # the next turn is not held up: the engine was ready (a ceiling, not a speed test:
    # benchmarks/agents.py measures that; a busy shared machine takes ~1 s at worst)
    assert answered - asked < 3.0


def test_an_uninterruptible_speak_frame_plays_on_through_an_interruption(
    voice: PiperVoice,
) -> None:
    """In process, the interrupt reaches the interrupted contexts' utterances
    only (over the WebSocket an interrupt stops all: see the README)."""
    options = EngineOptions(synthesis=SynthesisOptions(seed=SEED))
    service = WordSpy(voice=voice, engine_options=options)
    kept = TTSSpeakFrame(LONG_REPLY)
    kept.interruptible = False  # a greeting that must be heard, say
    frames: list[Frame] = [kept, LLMFullResponseStartFrame()]
    frames += [LLMTextFrame(piece) for piece in tokens(REPLY)]
    frames += [SleepFrame(1.0), InterruptionFrame(), SleepFrame(0.2)]
    down, _clock = run(service, frames)
    audio = audio_by_context(down)
    first = next(f.context_id for f in down if isinstance(f, TTSAudioRawFrame))
    same_audio(audio[first or ""], reference(voice, LONG_REPLY)[0])  # every sample of it
    assert set(audio) == {first}  # the interrupted turn never spoke: it waited behind


def test_the_remote_form_reconnects_for_the_next_turn(served: Served, references) -> None:  # type: ignore[no-untyped-def]
    """The server drops the connection between two turns (it closes a socket
    that sends a message over its 64 KB limit): the next turn connects again,
    as Pipecat's websocket services do."""
    service = WordSpy(url=served.url, token=TOKEN)
    connected: list[float] = []

    @service.event_handler("on_connected")
    async def on_connected(service: StreamttsTTSService) -> None:
        connected.append(time.perf_counter())

    async def drop_the_connection() -> None:
        await asyncio.sleep(1.5)  # the first turn has been spoken
        assert service._speech is not None
        await service._speech.channel.websocket.send("x" * 70_000)  # type: ignore[attr-defined]

    async def go() -> list[Frame]:
        frames = [TTSSpeakFrame(NEXT), SleepFrame(3.0), TTSSpeakFrame(TEXT)]
        dropping = asyncio.ensure_future(drop_the_connection())
        params = PipelineParams(audio_out_sample_rate=RATE)
        down, _up = await run_test(
            service, frames_to_send=frames, pipeline_params=params, start_timeout=30
        )
        await dropping
        return list(down)

    down = asyncio.run(asyncio.wait_for(go(), TIMEOUT_S))
    assert len(connected) == 2
    audio = list(audio_by_context(down).values())
    assert len(audio) == 2
    same_audio(audio[0], references[NEXT][0])
    same_audio(audio[1], references[TEXT][0])
