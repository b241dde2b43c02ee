"""``livekit.plugins.streamtts`` driven as LiveKit Agents 1.8 drives a TTS
(``synthesize()``, ``stream()`` with ``push_text``/``flush``/``end_input``,
``aclose()`` at a barge-in), without a LiveKit server, in process and
against a real ``streamtts serve`` on loopback. Every run is bounded."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
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
from .conftest import ROOT

pytest.importorskip("livekit.agents")

from livekit.agents import Plugin, tts
from livekit.agents.metrics import TTSMetrics
from livekit.agents.types import USERDATA_TIMED_TRANSCRIPT

from livekit.plugins import streamtts
from streamtts.integrations.host import local_host

TIMEOUT_S = 60


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT_S))


@pytest.fixture(scope="module")
def served(cache_dir: Path) -> Iterator[Served]:
    running = start_server()
    yield running
    assert stop_server(running) == 0


@pytest.fixture(params=["in process", "remote"])
def make(request: pytest.FixtureRequest, voice: PiperVoice):  # type: ignore[no-untyped-def]
    """The same TTS class, in process (seeded) or against the server."""

    def make_tts(sample_rate: int = RATE) -> streamtts.TTS:
        if request.param == "remote":
            url = request.getfixturevalue("served").url
            return streamtts.TTS(url=url, token=TOKEN, sample_rate=sample_rate)
        options = EngineOptions(synthesis=SynthesisOptions(seed=SEED))
        return streamtts.TTS(voice=voice, engine_options=options, sample_rate=sample_rate)

    return make_tts


@pytest.fixture(scope="module")
def references(voice: PiperVoice) -> dict[str, tuple[np.ndarray, list[tuple[str, float]]]]:
    return {text: reference(voice, text) for text in [TEXT, REPLY, NEXT, *WHISPER_SENTENCES]}


def timed_words(events: list[tts.SynthesizedAudio]) -> list[Any]:
    return [w for e in events for w in e.frame.userdata.get(USERDATA_TIMED_TRANSCRIPT, [])]


def pcm(events: list[tts.SynthesizedAudio]) -> np.ndarray:
    return s16(b"".join(bytes(e.frame.data) for e in events))


async def synthesis_stopped(engine: streamtts.TTS) -> bool:
    """In process: the host's utterances all ended within half a second
    (remote: the next reply below shows it)."""
    if engine._opts.url is not None:
        return True
    state = local_host().state
    assert state is not None
    for _ in range(50):
        if state.admission.active == 0:
            return True
        await asyncio.sleep(0.01)
    return False


def test_the_plugin_is_registered_in_livekits_namespace() -> None:
    assert "livekit.plugins.streamtts" in [p.package for p in Plugin.registered_plugins]
    for folder in ("livekit", "livekit/plugins"):  # namespaces: livekit.rtc, .agents stay found
        assert not (ROOT / folder / "__init__.py").exists()
    capabilities = streamtts.TTS(sample_rate=16000).capabilities
    assert capabilities.streaming and capabilities.aligned_transcript


def test_synthesize_equals_the_cli_with_a_timed_string_per_word(
    make,
    references,
    whisper,  # type: ignore[no-untyped-def]
) -> None:
    texts = [TEXT, *WHISPER_SENTENCES]

    async def go() -> tuple[list[list[tts.SynthesizedAudio]], list[TTSMetrics]]:
        engine = make()
        metrics: list[TTSMetrics] = []
        engine.on("metrics_collected", metrics.append)
        engine.prewarm()
        results = []
        for text in texts:
            async with engine.synthesize(text) as stream:
                results.append([event async for event in stream])
        await engine.aclose()
        return results, metrics

    results, metrics = run(go())
    heard = []
    for text, events in zip(texts, results, strict=True):
        want_audio, want_words = references[text]
        assert {e.frame.sample_rate for e in events} == {RATE}
        same_audio(pcm(events), want_audio)  # = `streamtts speak --seed 7`
        words = timed_words(events)
        assert "".join(words) == text  # the transcript is the text, word by word
        same_words([(str(w).strip(" ,.!?"), w.start_time) for w in words], want_words)
        heard.append((pcm(events).astype(np.float32) / 32767, want_words))
    assert len(metrics) == len(texts) and all(m.ttfb > 0 for m in metrics)
    errors = whisper_errors(whisper, heard[1:])
    assert statistics.median(errors) <= 0.060, statistics.median(errors)


def test_replies_asked_at_the_same_instant_in_one_process_each_speak_whole(
    voice: PiperVoice,
    references,  # type: ignore[no-untyped-def]
) -> None:
    """Four agents of one process ask at once: the host carries the burst
    (one voice, one scheduler, one shared pace) and every reply is the
    command line's audio, none refused, nothing left counted as starting."""

    async def go() -> list[list[tts.SynthesizedAudio]]:
        options = EngineOptions(synthesis=SynthesisOptions(seed=SEED))
        engines = [
            streamtts.TTS(voice=voice, engine_options=options, sample_rate=RATE) for _ in range(4)
        ]

        async def reply(engine: streamtts.TTS) -> list[tts.SynthesizedAudio]:
            async with engine.synthesize(TEXT) as stream:
                return [event async for event in stream]

        replies = await asyncio.gather(*(reply(engine) for engine in engines))
        for engine in engines:
            await engine.aclose()
        return list(replies)

    host = local_host()
    refused = host.state.refused if host.state is not None else 0
    for events in run(go()):
        same_audio(pcm(events), references[TEXT][0])
    assert host.state is not None and host.state.refused == refused
    assert host.state.admission.active == 0 and host.state.admission.starting == 0


def test_stream_speaks_the_tokens_as_they_come(make, references) -> None:  # type: ignore[no-untyped-def]
    rate = 24000  # LiveKit's own

    async def go() -> tuple[list[tuple[float, tts.SynthesizedAudio]], float, list[TTSMetrics]]:
        engine = make(rate)
        metrics: list[TTSMetrics] = []
        engine.on("metrics_collected", metrics.append)
        events = []
        async with engine.stream() as stream:

            async def write() -> float:
                for piece in tokens(REPLY, size=1):
                    stream.push_text(piece)
                    await asyncio.sleep(0.04)  # as an LLM writes
                stream.end_input()
                return time.perf_counter()

            writer = asyncio.ensure_future(write())
            async for event in stream:
                events.append((time.perf_counter(), event))
            last_token = await writer
        await engine.aclose()
        return events, last_token, metrics

    timed_events, last_token, metrics = run(go())
    events = [e for _t, e in timed_events]
    assert timed_events[0][0] < last_token  # speaking long before the reply is written
    assert {e.frame.sample_rate for e in events} == {rate}
    assert [e.is_final for e in events] == [False] * (len(events) - 1) + [True]
    assert len({e.segment_id for e in events}) == 1 and len({e.request_id for e in events}) == 1
    assert correlation_at(pcm(events), references[REPLY][0], rate) >= 0.999
    words = timed_words(events)
    assert "".join(words) == REPLY
    starts = [w.start_time for w in words]
    assert starts == sorted(starts)
    assert len(metrics) == 1 and metrics[0].streamed and metrics[0].ttfb > 0


def test_barge_in_stops_the_stream_and_the_next_reply_speaks(make, references) -> None:  # type: ignore[no-untyped-def]
    async def go() -> tuple[int, bool, list[tts.SynthesizedAudio], float]:
        engine = make()
        stream = engine.stream()
        for piece in tokens(LONG_REPLY):
            stream.push_text(piece)
        stream.end_input()
        heard = 0
        async for event in stream:
            heard += event.frame.samples_per_channel
            if heard >= RATE:  # a second of it: the user speaks
                break
        await stream.aclose()  # what the agent does at a barge-in
        stopped = await synthesis_stopped(engine)
        asked = time.perf_counter()
        async with engine.synthesize(NEXT) as reply:
            first = await reply.__anext__()
            answered = time.perf_counter() - asked
            rest = [first] + [event async for event in reply]
        await engine.aclose()
        return heard, stopped, rest, answered

    heard, stopped, rest, answered = run(go())
    assert heard < 3 * RATE and stopped
    same_audio(pcm(rest), references[NEXT][0])  # the engine was clean and ready
    assert answered < 3.0  # not held up (a ceiling: benchmarks/agents.py measures speed)


def test_a_flush_ends_the_segment_as_livekit_has_it(voice: PiperVoice) -> None:
    async def go() -> list[tts.SynthesizedAudio]:
        engine = streamtts.TTS(voice=voice, sample_rate=RATE)
        async with engine.stream() as stream:
            stream.push_text("One two.")
            stream.flush()
            stream.push_text("Three four.")  # LiveKit drops text after a flush
            stream.end_input()
            events = [event async for event in stream]
        await engine.aclose()
        return events

    events = run(go())
    assert "".join(timed_words(events)) == "One two."
    assert events[-1].is_final


def test_the_remote_form_reconnects_for_the_next_stream(served: Served, references) -> None:  # type: ignore[no-untyped-def]
    """A pooled connection the server dropped (a message over its 64 KB
    limit) is not handed out again: the next stream connects anew."""

    async def go() -> list[tts.SynthesizedAudio]:
        engine = streamtts.TTS(url=served.url, token=TOKEN, sample_rate=RATE)
        async with engine.synthesize(NEXT) as first:
            [event async for event in first]
        (pooled,) = engine._idle
        await pooled.channel.websocket.send("x" * 70_000)  # type: ignore[attr-defined]
        for _ in range(100):  # until its reader sees the close
            if not pooled.usable:
                break
            await asyncio.sleep(0.02)
        async with engine.synthesize(TEXT) as second:
            events = [event async for event in second]
        assert engine._idle and engine._idle[0] is not pooled
        await engine.aclose()
        return events

    same_audio(pcm(run(go())), references[TEXT][0])
