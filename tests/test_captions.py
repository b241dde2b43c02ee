"""Caption cues from the words as they are heard, and the files they make.

The cue builder is fed made-up word events here (fast); then the command
line makes real WebVTT and SubRip files that kept readers (webvtt-py, srt)
parse, timed against the audio and against Whisper's word timestamps.
"""

from __future__ import annotations

import difflib
import io
import itertools
import re
import statistics
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt

from streamtts import CaptionOptions, Cue, CueBuilder, WordStarted, write_captions
from streamtts.caption_files import CaptionFile, LiveCaptions, caption_format
from streamtts.captions import break_lines, cues_from_events
from streamtts.errors import ConfigError
from streamtts.events import UtteranceDone, UtteranceStats

RATE = 1000  # made-up events count milliseconds
TIMEOUT_S = 300

_WORD = re.compile(r"[^\W_]+(?:[.'/:$%-][^\W_]+)*|\$[\d.]+")


def events_for(text: str, word_ms: int = 300, gap_ms: int = 60) -> list[WordStarted]:
    """A word event for every written word, ``word_ms`` long, the segment
    changing after a full stop (as the segmenter cuts)."""
    events, at, segment = [], 0, 0
    for match in _WORD.finditer(text):
        before = text[: match.start()].rstrip()
        if events and before.endswith((".", "!", "?")):
            segment += 1
        start, end = match.span()
        events.append(
            WordStarted(1, segment, match.group(), start, end, at / RATE, at, at + word_ms)
        )
        at += word_ms + gap_ms
    return events


def words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W_]+", text)]


LESSON = (
    "The tide rises and falls twice a day, pulled by the moon and, to a lesser degree, "
    "by the sun. Why does it matter? Boats that leave on the ebb save fuel; those that "
    "fight it pay for it, sometimes in ways their crews remember for years. Plan ahead."
)


def build(text: str, **options: float) -> list[Cue]:
    return cues_from_events(events_for(text), text, RATE, CaptionOptions(**options))  # type: ignore[arg-type]


def test_cues_rise_keep_every_word_and_follow_the_conventions() -> None:
    cues = build(LESSON)
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    for before, after in itertools.pairwise(cues):
        assert before.start_s < before.end_s <= after.start_s
    assert words(" ".join(c.text for c in cues)) == words(LESSON)
    for cue in cues:
        assert len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines), cue
        assert cue.end_s - cue.start_s <= 7.0
    # A sentence never runs on into the next cue's middle: each starts one.
    starts = {c.text.split()[0] for c in cues}
    assert {"Why", "Boats", "Plan"} <= starts


def test_a_long_sentence_is_split_at_a_clause_end_leaving_no_short_tail() -> None:
    cues = build(LESSON)
    first_sentence = [c.text.replace("\n", " ") for c in cues[:2]]
    assert first_sentence[0].endswith(",") and first_sentence[1].endswith("by the sun.")
    assert len(first_sentence[1]) >= 24  # not "by the sun." alone


def test_seven_seconds_at_most_even_for_short_slow_words() -> None:
    text = " ".join(["one"] * 40) + "."
    cues = cues_from_events(events_for(text, word_ms=900), text, RATE)
    assert len(cues) > 5 and all(c.end_s - c.start_s <= 7.0 for c in cues)
    assert words(" ".join(c.text for c in cues)) == words(text)


def test_the_last_cue_ends_with_the_last_word_and_a_short_one_waits_for_the_next() -> None:
    text = "Yes. Then the rest of the answer follows at an even pace."
    events = events_for(text)
    cues = cues_from_events(events, text, RATE)
    assert cues[-1].end_s == events[-1].end_position / RATE
    assert cues[0].text == "Yes."
    # "Yes." lasts 0.3 s; it stays up until the next cue, at most 1 s.
    assert cues[0].end_s == cues[1].start_s == events[1].position / RATE


def test_cue_text_is_the_text_as_written() -> None:
    text = 'Dr. Lee paid **$3.50** for [the map](https://example.com/map) on 12/25/2023, "twice".'
    spoken = ["Dr.", "Lee", "paid", *["$3.50"] * 5, "for", "the", "map", "on", *["12/25/2023,"] * 3]
    spoken.append("twice")
    events, at, offset = [], 0, 0
    for written in spoken:  # "$3.50" is said as five words, each pointing at it
        start = text.index(written, offset)
        events.append(WordStarted(1, 0, "w", start, start + len(written), 0.0, at, at + 200))
        offset, at = start, at + 250
    cues = cues_from_events(events, text, RATE, CaptionOptions(max_line_chars=80))
    assert [c.text for c in cues] == ['Dr. Lee paid $3.50 for the map on 12/25/2023, "twice".']
    assert (cues[0].text_start, cues[0].text_end) == (0, text.index('twice"') + 5)


def test_fed_piece_by_piece_as_a_stream_gives_the_same_cues() -> None:
    whole = build(LESSON)
    builder = CueBuilder(RATE)
    events = events_for(LESSON)
    streamed: list[Cue] = []
    sent = 0
    for event in events:
        while sent < event.text_end + 3:  # the text runs a little ahead of the speech
            builder.add_text(LESSON[sent : sent + 7])
            sent += 7
        streamed += builder.feed(event)
    builder.add_text(LESSON[sent:])
    streamed += builder.feed(UtteranceDone(1, UtteranceStats(1)))
    assert streamed == whole
    assert builder.finish() == []  # once finished, nothing more


def test_words_of_another_utterance_are_not_this_ones() -> None:
    events = events_for(LESSON)
    stranger = WordStarted(2, 0, "other", 0, 5, 0.0, 99_999, 100_000)
    assert cues_from_events([*events[:3], stranger, *events[3:]], LESSON, RATE) == build(LESSON)


def test_lines_break_between_words_where_the_longest_is_shortest() -> None:
    assert break_lines("short") == "short"
    broken = break_lines("The tide rises and falls twice a day, pulled by the moon")
    first, second = broken.split("\n")
    assert abs(len(first) - len(second)) <= 12 and max(len(first), len(second)) <= 42
    assert break_lines("x" * 60) == "x" * 60  # one word is never cut


@pytest.mark.parametrize("suffix", [".vtt", ".srt"])
def test_files_parse_with_kept_readers(tmp_path: Path, suffix: str) -> None:
    cues = build(LESSON + " Tom & Jerry <3 --> fun.")
    path = tmp_path / f"lesson{suffix}"
    assert write_captions(cues, path) == len(cues)
    parsed = read_cues(path)
    assert [(round(a, 3), round(b, 3)) for a, b, _ in parsed] == [
        (round(c.start_s, 3), round(c.end_s, 3)) for c in cues
    ]
    # WebVTT cannot hold "-->" in a cue: it becomes "->".
    written = [c.text.replace("-->", "->") if suffix == ".vtt" else c.text for c in cues]
    assert [t for _, _, t in parsed] == written


def test_a_live_caption_file_has_each_cue_as_soon_as_it_completes(tmp_path: Path) -> None:
    path = tmp_path / "live.vtt"
    track = LiveCaptions(path)
    track.start(RATE)
    track.add_text(LESSON)
    events = events_for(LESSON)
    for event in events[:25]:
        track.feed(event)
    early = webvtt.read(str(path))
    assert 1 <= len(early) < len(build(LESSON))  # written, while words still come
    for event in events[25:]:
        track.feed(event)
    track.close()
    assert len(webvtt.read(str(path))) == len(build(LESSON))


def test_only_vtt_and_srt() -> None:
    assert caption_format("a.VTT") == "vtt" and caption_format("b.srt") == "srt"
    with pytest.raises(ConfigError, match=r"\.vtt \(WebVTT\) or \.srt \(SubRip\)"):
        caption_format("notes.txt")
    with pytest.raises(ConfigError, match="format='vtt' or 'srt'"):
        CaptionFile(io.StringIO())


def read_cues(path: Path) -> list[tuple[float, float, str]]:
    """Each cue of a caption file, read back by the kept library of its format
    (WebVTT's escapes undone)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".vtt":
        return [(_secs(c.start), _secs(c.end), _unescape(c.text)) for c in webvtt.from_string(text)]
    return [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in srt.parse(text)]


def _secs(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- real files from the command line ---------------------------------------------------

NOTES = """# Tides, lesson three

The tide rises and falls twice a day, pulled by the moon and, to a lesser degree, by the sun.
Dr. Lee measured it at the old pier, and the water rose by 3.5 m in six hours.

Why does it matter? Boats that leave on the ebb save fuel; those that fight it pay for it,
sometimes in ways their crews remember for years. **Plan** your trip with the tables.
"""


def speak(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "streamtts", "speak", "--seed", "3", *args],
        capture_output=True,
        timeout=TIMEOUT_S,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done


def wav_audio(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32767.0, rate


def last_sound_s(audio: np.ndarray, rate: int) -> float:
    """Where the last 10 ms above -45 dBFS (RMS) ends."""
    block = rate // 100
    frames = audio[: audio.size // block * block].reshape(-1, block)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > 10 ** (-45 / 20))
    return float((loud[-1] + 1) * block / rate)


@pytest.mark.parametrize("suffix", [".vtt", ".srt"])
def test_the_command_line_writes_a_caption_file_for_a_text_file(
    tmp_path: Path, cache_dir: Path, suffix: str
) -> None:
    (tmp_path / "notes.txt").write_text(NOTES, encoding="utf-8")
    speak("--file", "notes.txt", "--out", "notes.wav", "--captions", f"notes{suffix}", cwd=tmp_path)
    cues = read_cues(tmp_path / f"notes{suffix}")
    audio, rate = wav_audio(tmp_path / "notes.wav")
    duration = audio.size / rate
    assert len(cues) >= 6
    for (start, end, _), (after, _, _) in itertools.pairwise(cues):
        assert start < end <= after  # they rise, never overlap
    assert cues[-1][1] <= duration  # never after the audio
    assert abs(cues[-1][1] - last_sound_s(audio, rate)) <= 0.3  # ends with the last word
    written = words(NOTES.replace("**", ""))
    assert words(" ".join(text for _, _, text in cues)) == written
    assert all(len(line) <= 42 for _, _, text in cues for line in text.split("\n"))
    assert any("3.5 m" in text for _, _, text in cues)  # as written, not "meters"


def test_captions_beside_a_stream_to_standard_output(tmp_path: Path, cache_dir: Path) -> None:
    done = speak(
        "--out", "-", "--format", "raw", "--captions", "live.srt", NOTES.splitlines()[2],
        cwd=tmp_path,
    )  # fmt: skip
    cues = read_cues(tmp_path / "live.srt")
    assert len(cues) >= 2 and cues[-1][1] <= len(done.stdout) / 2 / 22050
    assert words(" ".join(t for _, _, t in cues)) == words(NOTES.splitlines()[2])


def test_word_and_cue_times_are_where_whisper_hears_the_words(
    tmp_path: Path, cache_dir: Path, whisper
) -> None:  # type: ignore[no-untyped-def]
    """Every caption's first word, and every word's time, against Whisper's
    word timestamps on the same audio (tests/test_word_events.py's method)."""
    import soxr
    import trio

    from streamtts import EngineOptions, FileSink, SynthesisOptions, TextOptions, open_engine

    text = NOTES.replace("# ", "")
    events: list[WordStarted] = []

    async def render() -> None:
        options = EngineOptions(
            synthesis=SynthesisOptions(seed=3), text=TextOptions(format="markdown")
        )
        sink = FileSink(tmp_path / "notes.wav")
        async with open_engine(None, sink, options=options, on_event=events.append) as engine:
            await engine.say(text)

    trio.run(render)
    words_heard = [e for e in events if isinstance(e, WordStarted)]
    cues = cues_from_events(events, text, 22050)
    audio, rate = wav_audio(tmp_path / "notes.wav")
    lead_s = 0.5
    audio16 = soxr.resample(audio.astype(np.float32), rate, 16000)
    audio16 = np.concatenate([np.zeros(int(lead_s * 16000), np.float32), audio16])
    segments, _ = whisper.transcribe(audio16, language="en", beam_size=1, word_timestamps=True)
    heard = [(w.word.strip(" .,?;").lower(), w.start - lead_s) for s in segments for w in s.words]
    ours = [(text[e.text_start : e.text_end].lower(), e.position / rate) for e in words_heard]
    matcher = difflib.SequenceMatcher(
        a=[w for w, _ in ours], b=[w for w, _ in heard], autojunk=False
    )
    errors = [
        abs(ours[b.a + k][1] - heard[b.b + k][1])
        for b in matcher.get_matching_blocks()
        for k in range(b.size)
        if b.b + k > 0  # Whisper pins a clip's first word to its start
    ]
    assert len(errors) >= 0.6 * len(ours), (len(errors), len(ours))
    assert statistics.median(errors) <= 0.150, statistics.median(errors)
    starts = {round(at, 4) for _, at in ours}
    assert all(round(c.start_s, 4) in starts for c in cues)  # a cue starts with a word's sound


def test_from_python_a_file_with_captions_at_a_loudness(tmp_path: Path, cache_dir: Path) -> None:
    import pyloudnorm

    from streamtts import SynthesisOptions
    from streamtts import speak as speak_text

    text = NOTES.splitlines()[2]
    result = speak_text(
        text,
        out=tmp_path / "line.wav",
        captions=tmp_path / "line.vtt",
        loudness_lufs=-16.0,
        options=SynthesisOptions(seed=1),
    )
    assert not result.interrupted
    cues = read_cues(tmp_path / "line.vtt")
    assert words(" ".join(t for _, _, t in cues)) == words(text)
    audio, rate = wav_audio(tmp_path / "line.wav")
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) + 16.0) <= 1.0
    assert cues[-1][1] <= audio.size / rate
