"""What the agent-framework tests share (tests/test_pipecat.py,
tests/test_livekit.py): a real ``streamtts serve`` on loopback, the plain
path's audio and word events for a text, the audio comparisons of
tests/test_serve.py, Whisper's word starts on a clip, and an LLM stand-in's
tokens. Every wait is bounded."""

from __future__ import annotations

import difflib
import socket
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import soxr

from streamtts import PiperVoice, SynthesisOptions, Synthesizer

from .test_word_events import TIMED, _normal

SEED = 7
TOKEN = "agents-token"
RATE = 22050  # the default voice's
TEXT = "Hello from the agent. It streams inside a sentence, exactly."
REPLY = (
    "Sure! The museum opens at ten and closes at six, Tuesday through Sunday. "
    "Tickets cost fifteen dollars, and entry is free on the first Friday."
)
LONG_REPLY = " ".join(["This sentence is one of many in a long reply, read at an even pace."] * 8)
NEXT = "Next one, please."
WHISPER_SENTENCES = TIMED[:16]  # plain words Whisper writes as the text does
GAP_S = 0.5  # silence between sentences in the clip Whisper hears


def tokens(text: str, size: int = 2) -> list[str]:
    """``text`` as an LLM streams it: a few words at a time, spaces kept."""
    words = text.split(" ")
    return [
        " ".join(words[i : i + size]) + (" " if i + size < len(words) else "")
        for i in range(0, len(words), size)
    ]


# -- a real server --------------------------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str  # ws://127.0.0.1:PORT
    port: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int | None = None) -> Served:
    """``streamtts serve`` on loopback (HTTP and WebSocket only), seeded."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamtts", "serve", "--port", str(port), "--wyoming", "none",
         "--token", TOKEN, "--seed", str(SEED)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().decode()  # the one "serving ... at ..." line
    if not line.startswith("streamtts: serving"):
        process.kill()
        assert process.stderr is not None
        raise AssertionError((line, process.stderr.read().decode()[-2000:]))
    return Served(process, f"ws://127.0.0.1:{port}", port)


def stop_server(served: Served) -> int:
    served.process.terminate()
    try:
        return served.process.wait(timeout=30)
    finally:
        served.process.kill()


# -- audio -----------------------------------------------------------------------------------


def reference(voice: PiperVoice, text: str) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """What ``streamtts speak --seed 7`` makes of ``text`` (the plain path;
    the CLI equals it, see test_cli): s16 samples at the voice's rate, and
    each word event as (its text, seconds from the first sample)."""
    audio: list[np.ndarray] = []
    words: list[tuple[str, float]] = []
    written = 0
    for chunk in Synthesizer(voice, SynthesisOptions(seed=SEED)).speak([text]):
        origin = written - chunk.start_sample
        words += [(m.text, (origin + m.start_sample) / RATE) for m in chunk.marks]
        audio.append(chunk.samples)
        written += chunk.samples.size
    samples = np.concatenate(audio)
    return np.rint(np.clip(samples, -1, 1) * 32767).astype(np.int16), words


def s16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2").copy()


def same_audio(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= 1


def correlation_at(got: np.ndarray, want: np.ndarray, rate: int) -> float:
    """``got`` (s16 at ``rate``) against ``want`` (s16 at the voice's rate)
    resampled as the servers resample; the lengths must agree too."""
    g = got.astype(np.float32) / 32767
    w = soxr.resample(want.astype(np.float32) / 32767, RATE, rate)
    assert abs(g.size - w.size) <= rate // 400, (g.size, w.size)  # within 2.5 ms
    n = min(g.size, w.size)
    return float(np.dot(g[:n], w[:n]) / np.sqrt(np.dot(g[:n], g[:n]) * np.dot(w[:n], w[:n])))


def same_words(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """One timestamp per spoken word, in order, where the engine's word events are."""
    assert [w for w, _ in got] == [w for w, _ in want], (got, want)
    assert all(abs(a - b) <= 1.5 / RATE for (_, a), (_, b) in zip(got, want, strict=True))
    times = [t for _, t in got]
    assert times == sorted(times)


# -- Whisper ------------------------------------------------------------------------------------


def whisper_errors(
    whisper,  # type: ignore[no-untyped-def]
    sentences: list[tuple[np.ndarray, list[tuple[str, float]]]],
) -> list[float]:
    """|word timestamp - Whisper's word start|, as tests/test_word_events.py
    measures it (the first written word of each timestamped word, never the
    clip's first word), with the sentences (float32 at the voice's rate,
    their words) in one clip, ``GAP_S`` of silence around each."""
    gap = np.zeros(int(GAP_S * RATE), np.float32)
    parts, words, at = [gap], [], GAP_S
    for audio, timed in sentences:
        words += [(text, at + start) for text, start in timed]
        parts += [audio, gap]
        at += audio.size / RATE + GAP_S
    clip = soxr.resample(np.concatenate(parts), RATE, 16000).astype(np.float32)
    segments, _ = whisper.transcribe(clip, language="en", beam_size=1, word_timestamps=True)
    heard = [(_normal(w.word), w.start) for s in segments for w in s.words]
    ours = [(_normal(w), i) for i, (text, _) in enumerate(words) for w in text.split()]
    ours = [(w, i) for w, i in ours if w]
    mine, theirs = [w for w, _ in ours], [w for w, _ in heard]
    matcher = difflib.SequenceMatcher(a=mine, b=theirs, autojunk=False)
    errors = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            a, b = block.a + k, block.b + k
            event = ours[a][1]
            if (a == 0 or ours[a - 1][1] != event) and b > 0:
                errors.append(abs(words[event][1] - heard[b][1]))
    assert len(errors) >= 0.7 * len(ours), (len(errors), len(ours))  # Whisper understood
    return errors
