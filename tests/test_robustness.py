"""Hostile text, faults and cancellation: speech or a named error, never a
crash, a hang, unbounded memory, or a lost rest of the stream."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import trio

from streamtts import (
    AudioStreamSink,
    NullSink,
    PiperVoice,
    SegmentFailed,
    SynthesisOptions,
    Synthesizer,
    WordStarted,
    open_engine,
)
from streamtts.backend import ThreadedBackend
from streamtts.events import Event
from streamtts.testing import FakeBackend, FakeSink

from .data.hostile import HOSTILE

FIRST_AUDIO_BOUND_S = 5.0  # generous: a shared 2-core machine
SPEAK_BUDGET_S = 2.0  # long inputs are interrupted after this much audio


def test_the_hostile_corpus_is_big_and_varied() -> None:
    assert len(HOSTILE) >= 60
    names = {name for name, _, _ in HOSTILE}
    for needed in (
        "empty",
        "emoji",
        "nul only",
        "lone surrogates",
        "40 digit number",
        "html tags",
        "right to left",
        "no punctuation 100k",
        "binary garbage as latin-1",
        "thousands of periods between words",
    ):
        assert needed in names


async def speak_bounded(engine, text: str) -> tuple[object, float | None]:  # type: ignore[no-untyped-def]
    """Say ``text``; interrupt it once SPEAK_BUDGET_S of its audio is out.

    The sink is not real-time (nothing here needs a device's pace), so a
    long input is cut by how much it has said, not by waiting."""
    outcome: list[object] = []
    sink = engine.sink
    budget = sink.accepted + int(SPEAK_BUDGET_S * engine.backend.sample_rate_hz)
    async with trio.open_nursery() as nursery:

        async def say() -> None:
            outcome.append(await engine.say(text))

        nursery.start_soon(say)
        while not outcome and sink.accepted < budget:
            await trio.sleep(0.01)
        if not outcome:
            await engine.interrupt()
    result = outcome[0]
    ttfa = result.stats.ttfa_s  # type: ignore[attr-defined]
    return result, ttfa


async def test_hostile_inputs_through_the_api(voice: PiperVoice) -> None:
    process = psutil.Process()
    failures: list[Event] = []
    async with open_engine(
        backend=ThreadedBackend.for_voice(voice, SynthesisOptions(seed=0)),
        sink=NullSink(),
        on_event=lambda e: failures.append(e) if isinstance(e, SegmentFailed) else None,
    ) as engine:
        await engine.say("Warm up.")
        rss_before = process.memory_info().rss
        for name, text, expect in HOSTILE:
            with trio.fail_after(FIRST_AUDIO_BOUND_S + 60):
                result, ttfa = await speak_bounded(engine, text)
            audio = result.stats.audio_s  # type: ignore[attr-defined]
            if expect == "speech":
                assert audio > 0, name
                assert ttfa is not None and ttfa < FIRST_AUDIO_BOUND_S, (name, ttfa)
            else:
                assert audio == 0, name
        grown_mb = (process.memory_info().rss - rss_before) / 2**20
    print(f"\nRSS growth over the hostile corpus: {grown_mb:.1f} MB")
    assert grown_mb < 150
    assert failures == []  # every input was spoken or had nothing to say


# The command line gets a cross-section (every input goes through the API
# above; each CLI run costs a process start and a voice load).
CLI_NAMES = {
    "empty",
    "whitespace mix",
    "only periods",
    "nul only",
    "bidi marks only",
    "emoji",
    "mixed scripts",
    "control chars inside",
    "lone surrogates",
    "40 digit number",
    "ssml looking",
    "unbalanced quotes",
    "binary garbage as latin-1",
    "math symbols",
}
# Each CLI case is spoken whole; the API test above speaks every input in
# full too (bounded by audio). A prefix of the long ones shows the command
# line's handling of such bytes without rendering minutes of garbage.
CLI_MAX_CHARS = 300
CLI_CASES = [
    (name, text[:CLI_MAX_CHARS], expect) for name, text, expect in HOSTILE if name in CLI_NAMES
]


@pytest.mark.parametrize(("name", "text", "expect"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_hostile_inputs_through_the_cli(
    name: str, text: str, expect: str, tmp_path: Path, cache_dir: Path
) -> None:
    data = text.encode("utf-8", errors="surrogatepass")  # lone surrogates, as a pipe may carry
    result = subprocess.run(
        [sys.executable, "-m", "streamtts", "speak", "--text-format", "plain", "--out", "o.wav"],
        input=data,
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    if expect == "speech":
        assert result.returncode == 0, result.stderr.decode()
        assert (tmp_path / "o.wav").stat().st_size > 44 + 2 * 2000
    else:
        assert result.returncode == 1
        assert result.stderr.startswith(b"streamtts: error: nothing to say")
        assert result.stderr.count(b"\n") == 1


async def test_a_stream_with_bad_pieces_still_speaks_every_good_piece(voice: PiperVoice) -> None:
    good = ["Alpha speaks first.", "Bravo follows.", "Charlie comes third.", "Delta ends it."]
    bad = ["\x00\x01\x02", "\ud800\udfff", "." * 2000, "<b></b>", "\u200b" * 50, "😀" * 3]
    words: list[str] = []

    def heard(event: Event) -> None:
        if isinstance(event, WordStarted):
            words.append(event.word.strip(".").lower())

    with trio.fail_after(120):
        async with (
            open_engine(
                backend=ThreadedBackend.for_voice(voice), sink=NullSink(), on_event=heard
            ) as engine,
            engine.stream() as stream,
        ):
            for index, sentence in enumerate(good):
                await stream.send(sentence + " ")
                await stream.send(bad[index % len(bad)] + " ")
                await stream.send(bad[(index + 3) % len(bad)] + " ")
    for sentence in good:
        for word in sentence.rstrip(".").lower().split():
            assert word in words, (word, words)


async def test_a_worker_thread_that_raises_loses_one_segment_only(
    voice: PiperVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_encode = voice.encode
    from streamtts.text.phoneme_ids import to_phoneme_ids
    from streamtts.text.phonemizer import Phonemizer

    doomed = to_phoneme_ids(
        Phonemizer().phonemize(" Boom boom boom.").symbols, voice.config.phoneme_id_map
    ).ids.tolist()

    def flaky(ids, options, rng, **more):  # type: ignore[no-untyped-def]
        if ids.ids.tolist() == doomed:
            raise RuntimeError("the encoder thread blew up")
        return real_encode(ids, options, rng, **more)

    monkeypatch.setattr(voice, "encode", flaky)
    events: list[Event] = []
    with trio.fail_after(120):
        async with open_engine(
            backend=ThreadedBackend.for_voice(voice), sink=NullSink(), on_event=events.append
        ) as engine:
            result = await engine.say("First part is fine. Boom boom boom. Last part is fine.")
    failed = [e for e in events if isinstance(e, SegmentFailed)]
    spoken = [e.word for e in events if isinstance(e, WordStarted)]
    assert len(failed) == 1 and "blew up" in failed[0].error
    assert "First" in spoken and "Last" in spoken
    assert result.stats.failed_segments == 1


# A shell without job control starts `cmd &` with SIGINT ignored and its
# children inherit that (CI runners can run us so); a streamtts started
# that way rightly ignores Ctrl-C. This test is about a person pressing
# Ctrl-C in a terminal, so the child first takes Python's usual handler,
# then runs `python -m streamtts` itself.
_SPEAK_AS_IN_A_TERMINAL = (
    "import runpy, signal\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "runpy.run_module('streamtts', run_name='__main__', alter_sys=True)\n"
)


def test_ctrl_c_mid_utterance_exits_cleanly(tmp_path: Path, cache_dir: Path) -> None:
    text = " ".join(["This text is long enough to still be speaking when interrupted."] * 40)
    command = ["speak", "--out", "-", "--format", "raw", text]
    speaker = subprocess.Popen(
        [sys.executable, "-c", _SPEAK_AS_IN_A_TERMINAL, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert speaker.stdout is not None
    first = speaker.stdout.read(4096)  # speaking has begun
    assert first
    speaker.send_signal(signal.SIGINT)
    try:
        _, err = speaker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        speaker.kill()
        pytest.fail("streamtts did not stop on Ctrl-C")
    assert speaker.returncode == 130
    assert err.strip().splitlines()[-1] == b"streamtts: interrupted"
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no temp files left behind


def _worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


@pytest.mark.slow  # a thousand barge-ins: long even on virtual time
async def test_interrupt_at_1000_random_points(autojump_clock: trio.abc.Clock) -> None:
    """Across segmenting, phonemizing (real espeak), encoding, decoding, playing."""
    rng = random.Random(1000)
    sink = FakeSink(block_s=0.05)  # 50 ms blocks: each is a scheduler round
    backend = FakeBackend(phonemize=True, prepare_s=0.002)
    text = "One, two, three. Dr. Smith paid $3.50 at 3:30. The end is near; really near."
    async with open_engine(backend=backend, sink=sink) as engine:
        reference = await engine.say("Next one.")
        for _ in range(1000):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(engine.say, text)
                await trio.sleep(rng.uniform(0.0, 6.0))
                await engine.interrupt()
            assert sink.queued == 0 and sink.heard() == sink.accepted  # silent
            assert engine.active == 0
            after = await engine.say("Next one.")
            assert not after.interrupted
            assert after.stats.audio_s == reference.stats.audio_s


async def test_interrupt_the_real_voice_anywhere_then_speak_correctly(voice: PiperVoice) -> None:
    threads_before = set(_worker_threads())
    rng = random.Random(5)
    options = SynthesisOptions(seed=9)
    expected = np.concatenate(
        [c.samples for c in Synthesizer(voice, options).speak(["Speak the next one."])]
    )
    text = "A longer utterance, with clauses; and numbers like 3.14, to cut anywhere. Again!"
    sink = AudioStreamSink(max_blocks=1000)
    received: list[np.ndarray] = []
    with trio.fail_after(300):
        async with (
            open_engine(backend=ThreadedBackend.for_voice(voice, options), sink=sink) as engine,
            trio.open_nursery() as reader,
        ):

            async def read() -> None:
                async for block in sink:
                    received.append(block)

            reader.start_soon(read)
            for _ in range(25):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(engine.say, text)
                    await trio.sleep(rng.uniform(0.0, 0.4))
                    await engine.interrupt()
                await trio.sleep(0.05)
                received.clear()
                result = await engine.say("Speak the next one.")
                await trio.sleep(0.05)
                got = np.concatenate(received) if received else np.zeros(0, np.float32)
                assert not result.interrupted
                assert got.shape == expected.shape
                assert np.max(np.abs(got - expected)) < 1e-5
            await sink.aclose()
    time.sleep(0.1)
    for name in set(_worker_threads()) - threads_before:
        assert name.startswith("Trio"), name  # only trio's idle, cached worker threads
