"""A loudness target under a true-peak ceiling: the limiter kernel against
its numpy twin (streaming equals batch, nothing ever over the ceiling),
files normalized exactly, streams that never clip, and the doors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import trio
from hypothesis import strategies as st

from streamtts import ConfigError, EngineOptions, PiperVoice, SynthesisOptions, Synthesizer
from streamtts.backend import ThreadedBackend
from streamtts.dsp.levels import PeakLimiter, stream_ceiling
from streamtts.engine import open_engine
from streamtts.loudness import (
    integrated_lufs,
    normalize_file,
    normalized,
    true_peak_dbtp,
)
from streamtts.messages import AudioChunk, Segment
from streamtts.output import OutputCore
from streamtts.sinks.wav import PcmWriter

from .test_delivery import KeepingSink

RATE = 22050
TIMEOUT_S = 300

floats = st.floats(-1.0, 1.0, width=32)


def independent_true_peak_dbtp(samples: np.ndarray, rate: int) -> float:
    """True peak by another resampler (scipy's polyphase filter, 4x)."""
    from scipy.signal import resample_poly

    up = resample_poly(samples.astype(np.float64), 4, 1)
    return 20 * math.log10(max(float(np.max(np.abs(up))), float(np.max(np.abs(samples)))))


def loudness(samples: np.ndarray, rate: int) -> float:
    """pyloudnorm, called here directly (the test's own measure)."""
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64)))


def speech_like(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Noise shaped into syllables with sharp onsets: peaks ~20 dB over its loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 3
    tone = np.sin(2 * np.pi * 140 * t) * 0.6 + rng.standard_normal(t.size) * 0.2
    clicks = (rng.random(t.size) < 0.0005) * rng.choice([-1, 1], t.size) * 0.9
    return ((tone * envelope + clicks) * 0.05).astype(np.float32)


# -- the limiter (its kernel against the numpy twin: tests/test_kernels.py) -------------


def test_the_limiter_leaves_quiet_audio_alone_and_checks_its_input() -> None:
    quiet = speech_like() * np.float32(0.5)
    limiter = PeakLimiter(0.9, RATE)
    np.testing.assert_array_equal(limiter.process(quiet), quiet)
    assert limiter.lowered == 0 and limiter.gain == 1.0
    with pytest.raises(ValueError, match="ceiling must be in"):
        PeakLimiter(1.5, RATE)
    with pytest.raises(ValueError, match="1-D float32"):
        limiter.process(np.zeros(4))


def test_the_output_path_limits_after_the_gain() -> None:
    loud = speech_like() * np.float32(40.0)  # far over full scale
    segment = Segment("x", 0, 1, "end", 0)
    core = OutputCore(0, RATE, RATE, 2.0, 0.0, limiter=PeakLimiter(stream_ceiling(-1.5), RATE))
    placed = core.place(AudioChunk(loud, segment, 0, True), 0)
    assert float(np.max(np.abs(placed.samples))) <= stream_ceiling(-1.5) * (1 + 1e-6)


# -- files -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [-16.0, -23.0, -19.0])
def test_a_file_is_normalized_to_the_target_under_the_ceiling(target: float) -> None:
    source = speech_like()
    out, found = normalized(source, RATE, target, -1.5)
    assert abs(loudness(out, RATE) - target) <= 0.2
    assert true_peak_dbtp(out, RATE) <= -1.5 and found.true_peak_dbtp <= -1.5
    assert independent_true_peak_dbtp(out, RATE) <= -1.4
    assert found.integrated_lufs == pytest.approx(loudness(out, RATE), abs=1e-6)


def test_silence_and_short_audio() -> None:
    silent, found = normalized(np.zeros(RATE, np.float32), RATE, -16.0)
    assert not silent.any() and found.integrated_lufs == -math.inf
    short, _ = normalized(speech_like(0.25), RATE, -16.0)  # under BS.1770's 0.4 s block
    assert short.size == int(0.25 * RATE) and integrated_lufs(short, RATE) == pytest.approx(
        -16.0, abs=0.3
    )


@pytest.mark.parametrize("format", ["wav", "raw"])
def test_normalize_file_rewrites_wav_and_raw(tmp_path: Path, format: str) -> None:
    path = tmp_path / f"speech.{format}"
    with path.open("wb") as stream:
        writer = PcmWriter(stream, RATE, format)
        writer.write(speech_like())
        writer.close()
    found = normalize_file(path, -16.0, -1.5, format=format, sample_rate_hz=RATE)
    if format == "wav":
        with wave.open(str(path)) as wav:
            assert wav.getframerate() == RATE
            data = wav.readframes(wav.getnframes())
    else:
        data = path.read_bytes()
    samples = np.frombuffer(data, "<i2") / 32767.0
    assert samples.size == speech_like().size
    assert abs(loudness(samples, RATE) + 16.0) <= 0.2 and found.true_peak_dbtp <= -1.5


def test_bad_targets_are_refused_in_words() -> None:
    with pytest.raises(ConfigError, match="loudness must be from -70 to -5 LUFS"):
        EngineOptions(loudness_lufs=3.0)
    with pytest.raises(ConfigError, match="true-peak ceiling must be from -20 to 0 dBTP"):
        EngineOptions(loudness_lufs=-16.0, true_peak_dbtp=1.0)
    with pytest.raises(ConfigError, match="loudness must be"):
        normalized(speech_like(), RATE, float("nan"))


def test_the_command_lines_take_it() -> None:
    from streamtts.cli import build_parser
    from streamtts.cli.speak import engine_options, synthesis_options

    parser = build_parser()
    args = parser.parse_args(["speak", "--loudness", "-16", "--out", "-", "Hi."])
    options = engine_options(args, synthesis_options(args), live=False)
    assert (options.loudness_lufs, options.true_peak_dbtp) == (-16.0, -1.5)
    args = parser.parse_args(["speak", "--loudness", "-16", "--peak", "-2", "--out", "a.wav"])
    options = engine_options(args, synthesis_options(args), live=False)
    assert options.loudness_lufs is None  # a file is normalized whole, after
    pytest.importorskip("starlette")
    from streamtts.cli import serve as serve_command

    served = serve_command.options(parser.parse_args(["serve", "--loudness", "-18"]))
    assert (served.loudness_lufs, served.true_peak_dbtp) == (-18.0, -1.5)


def test_the_http_field() -> None:
    pytest.importorskip("starlette")
    from streamtts.conversation.refusals import Refusal
    from streamtts.serve.captioned import parse_captioned_request
    from streamtts.serve.openai import parse_speech_request

    for parse in (parse_speech_request, parse_captioned_request):
        assert parse(b'{"input": "Hi.", "loudness": -16}', "joe").loudness_lufs == -16.0
        assert parse(b'{"input": "Hi."}', "joe").loudness_lufs is None
        for bad in (b'"loud"', b"0", b"true"):
            with pytest.raises(Refusal, match="loudness must be a number of LUFS"):
                parse(b'{"input": "Hi.", "loudness": ' + bad + b"}", "joe")


# -- with the voice ----------------------------------------------------------------------

TEXTS = [
    "The quick brown fox jumps over the lazy dog. It was not amused!",
    "Wait, what? Say that again, slowly, and tell me where the train leaves from.",
    "Results: forty two percent said yes; the rest said no, or did not answer at all.",
]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "streamtts", "speak", "--seed", "2", *args],
        capture_output=True,
        timeout=TIMEOUT_S,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done


def test_a_rendered_file_lands_on_the_target(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "notes.txt").write_text(" ".join(TEXTS), encoding="utf-8")
    done = run_cli(
        "--file", "notes.txt", "--out", "notes.wav", "--loudness", "-16", "--stats", cwd=tmp_path
    )
    with wave.open(str(tmp_path / "notes.wav")) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32767.0
    assert abs(loudness(audio, RATE) + 16.0) <= 1.0
    assert true_peak_dbtp(audio, RATE) <= -1.5
    assert independent_true_peak_dbtp(audio, RATE) <= -1.4
    stats = json.loads(done.stderr.decode().strip().splitlines()[-1])
    assert stats["loudness"]["true_peak_dbtp"] <= -1.5


def test_a_stream_never_clips(tmp_path: Path, cache_dir: Path) -> None:
    done = run_cli("--out", "-", "--format", "raw", "--loudness", "-16", *TEXTS, cwd=tmp_path)
    samples = np.frombuffer(done.stdout, "<i2")
    assert samples.size > RATE and int(np.max(np.abs(samples.astype(np.int32)))) < 32767
    assert float(np.max(np.abs(samples))) / 32767 <= stream_ceiling(-1.5) + 1e-4
    assert abs(loudness(samples / 32767.0, RATE) + 16.0) <= 1.5


async def test_a_stream_far_too_loud_is_held_under_its_ceiling(voice: PiperVoice) -> None:
    """-6 LUFS asks for peaks ~14 dB over full scale: the limiter holds them."""
    sink = KeepingSink()
    options = EngineOptions(loudness_lufs=-6.0, true_peak_dbtp=-1.0)
    backend = ThreadedBackend.for_voice(voice, SynthesisOptions(seed=1))
    with trio.fail_after(TIMEOUT_S):
        async with open_engine(backend=backend, sink=sink, options=options) as engine:
            assert engine.loudness_gain > 4.0
            await engine.say(TEXTS[0])
    assert float(np.max(np.abs(sink.audio))) <= stream_ceiling(-1.0) * (1 + 1e-6)
    plain = np.concatenate(
        [c.samples for c in Synthesizer(voice, SynthesisOptions(seed=1)).speak([TEXTS[0]])]
    )
    assert sink.audio.size == plain.size  # the same speech, only louder
