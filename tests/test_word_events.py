"""Word events name the words being heard, even where espeak-ng joins or
splits words ("of the" is one spoken word, "$3.50" five).

The mapping comes from espeak's own word events; these tests check it on a
corpus rich in joined function words, numbers, dates, abbreviations, URLs,
hyphens, contractions and quotes, then check the timing against an
independent aligner: Whisper's word timestamps on the rendered audio.
"""

from __future__ import annotations

import difflib
import itertools
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import trio

from streamtts import PiperVoice, SynthesisOptions, Synthesizer
from streamtts.backend import ThreadedBackend
from streamtts.engine import open_engine
from streamtts.events import Event, WordStarted
from streamtts.sinks.files import NullSink
from streamtts.synthesis import MAX_SYMBOLS_PER_PART
from streamtts.text import phonemizer as phonemizer_module
from streamtts.text._espeak import espeak_word_starts
from streamtts.text.phonemizer import Phonemizer

from .conftest import corpus

TIMEOUT_S = 120
SENTENCES = corpus("word_events.txt")
_ALNUM = re.compile(r"[^\W_]+")


def span_problems(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """What is wrong with a segment's word spans, in words."""
    problems = []
    for match in _ALNUM.finditer(text):
        if not any(a <= match.start() and match.end() <= b for a, b in spans):
            problems.append(f"{match.group()!r} is in no word event")
    for (a, b), (c, d) in itertools.pairwise(spans):
        if c < b:
            problems.append(f"{text[c:d]!r} starts before {text[a:b]!r} ends")
    for a, b in spans:
        if a > 0 and text[a - 1].isalnum() and text[a].isalnum():
            problems.append(f"{text[a:b]!r} starts inside a word")
    return problems


def test_the_corpus_is_big_and_varied() -> None:
    assert len(SENTENCES) >= 200
    joined = " ".join(SENTENCES).lower()
    for needle in (" of the ", " to the ", " in a ", "it is ", "$", "/", "@", "://", "-", "'"):
        assert joined.count(needle) >= 5, needle
    assert sum(bool(re.search(r"\d", s)) for s in SENTENCES) >= 40


def test_espeak_gives_one_event_per_spoken_word() -> None:
    """The mapping is espeak's own, never the counting fallback."""
    for text in SENTENCES:
        clauses = phonemizer_module._spoken_clauses(
            text, phonemizer_module.espeak_clauses(text, "en-us")
        )
        spoken = sum(len(c.ipa_words) for c in clauses)
        starts = espeak_word_starts(text, "en-us")
        assert starts is not None and len(starts) == spoken, text


@pytest.mark.parametrize("text", SENTENCES)
def test_every_written_word_is_in_one_event_in_order(text: str) -> None:
    phonemes = Phonemizer().phonemize(text)
    spans = [(w.text_start, w.text_end) for w in phonemes.words]
    assert span_problems(text, spans) == []
    # And each event's symbols are in order, without overlap.
    for before, after in itertools.pairwise(phonemes.words):
        assert before.symbol_end <= after.symbol_start


def test_joined_words_are_one_event() -> None:
    phonemes = Phonemizer().phonemize("He was one of the best.")
    text = phonemes.text
    got = [
        (text[w.text_start : w.text_end], "".join(phonemes.symbols[w.symbol_start : w.symbol_end]))
        for w in phonemes.words
    ]
    assert got == [
        ("He", "hiː"),
        ("was", "wʌz"),
        ("one", "wˈʌn"),
        ("of the", "ʌvðə"),
        ("best", "bˈɛst"),
    ]


def test_words_survive_a_long_segment_spoken_in_parts() -> None:
    text = " ".join(SENTENCES[:40])
    phonemes = Phonemizer().phonemize(text)
    parts = phonemes.split(MAX_SYMBOLS_PER_PART // 4)
    assert len(parts) > 2
    spans = [(w.text_start, w.text_end) for part in parts for w in part.words]
    assert spans == [(w.text_start, w.text_end) for w in phonemes.words]
    assert span_problems(text, spans) == []


async def test_the_engine_names_every_word_card_included(voice: PiperVoice) -> None:
    """The example from the bug report, through the actor graph."""
    text = "Hello world. This is a test of the sound card."
    events: list[Event] = []
    with trio.fail_after(TIMEOUT_S):
        async with open_engine(
            backend=ThreadedBackend.for_voice(voice, SynthesisOptions(seed=3)),
            sink=NullSink(),
            on_event=events.append,
        ) as engine:
            await engine.say(text)
    words = [e for e in events if isinstance(e, WordStarted)]
    assert [w.word for w in words] == [
        "Hello",
        "world",
        "This",
        "is",
        "a",
        "test",
        "of the",
        "sound",
        "card",
    ]
    assert [text[w.text_start : w.text_end] for w in words] == [w.word for w in words]
    times = [w.at_s for w in words]
    assert times == sorted(times)


def rendered_words(
    voice: PiperVoice, text: str, seed: int
) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """Audio of ``text`` (plain path) and each word event: (text, seconds)."""
    rate = voice.sample_rate_hz
    audio: list[np.ndarray] = []
    events: list[tuple[str, float]] = []
    written = 0
    for chunk in Synthesizer(voice, SynthesisOptions(seed=seed)).speak([text]):
        segment_origin = written - chunk.start_sample
        events += [(m.text, (segment_origin + m.start_sample) / rate) for m in chunk.marks]
        audio.append(chunk.samples)
        written += chunk.samples.size
    return np.concatenate(audio), events


def _normal(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum())


# Plain words Whisper writes the way the text does; each has a joined pair.
TIMED = [s for s in SENTENCES if not re.search(r"[\d$%&@/#]", s)][:30]


def test_events_sound_when_whisper_hears_the_words(
    voice: PiperVoice, whisper, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Each event against Whisper's word timestamps on the same audio.

    Whisper tiny.en's timestamps run late: on a list read with pauses its
    word starts came 20-400 ms after the energy onsets, where our events
    came 0-60 ms before them (the closure of a first consonant is silent).
    So the start times are compared as the issue asks (median error), and
    which word is heard is checked in the middle of each event's word.
    """
    import soxr

    assert len(TIMED) >= 24
    lead_s = 0.5  # silence before the speech, so Whisper has a clean start
    errors_s: list[float] = []
    same = near = checked = matched = total = 0
    for n, text in enumerate(TIMED):
        audio, events = rendered_words(voice, text, seed=n)
        audio16 = soxr.resample(audio, voice.sample_rate_hz, 16000).astype(np.float32)
        audio16 = np.concatenate([np.zeros(int(lead_s * 16000), np.float32), audio16])
        segments, _ = whisper.transcribe(audio16, language="en", beam_size=1, word_timestamps=True)
        heard = [(_normal(w.word), w.start - lead_s) for s in segments for w in s.words]
        # Our events as written words, each with the index of its event.
        ours: list[tuple[str, int]] = []
        for index, (event_text, _at) in enumerate(events):
            ours += [(_normal(w), index) for w in event_text.split() if _normal(w)]
        matcher = difflib.SequenceMatcher(
            a=[w for w, _ in ours], b=[w for w, _ in heard], autojunk=False
        )
        event_of_heard: dict[int, int] = {}
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                word_index, heard_index = block.a + k, block.b + k
                event = ours[word_index][1]
                event_of_heard[heard_index] = event
                first_word_of_event = word_index == 0 or ours[word_index - 1][1] != event
                # Whisper pins the first word of a clip to its start, whatever
                # the silence before it: that timestamp says nothing.
                if first_word_of_event and heard_index > 0:
                    errors_s.append(abs(events[event][1] - heard[heard_index][1]))
        matched += len(event_of_heard)
        total += len(heard)
        starts = [at for _, at in heard]
        ends = [at for _, at in events[1:]] + [audio.size / voice.sample_rate_hz]
        for index, ((_event_text, at), end) in enumerate(zip(events, ends, strict=True)):
            middle = (at + end) / 2
            hearing = max((k for k, s in enumerate(starts) if s <= middle), default=0)
            if hearing in event_of_heard:
                checked += 1
                distance = abs(event_of_heard[hearing] - index)
                assert distance <= 1, (text, index, events, heard)
                same += distance == 0
                near += distance == 1
    assert matched >= 0.8 * total, (matched, total)  # Whisper understood the speech
    assert len(errors_s) >= 150 and checked >= 200
    assert statistics.median(errors_s) <= 0.060, statistics.median(errors_s)
    assert same >= 0.85 * checked, (same, near, checked)
