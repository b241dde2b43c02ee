"""One synthesis core: every path (plain and trio, streaming and whole)
runs the same steps and gives the same samples; a second voice family is
a new class and nothing else."""

from __future__ import annotations

import itertools

import numpy as np
import trio

from streamtts import (
    EngineOptions,
    NullSink,
    PiperVoice,
    SynthesisOptions,
    Synthesizer,
)
from streamtts.backend import Backend, ThreadedBackend
from streamtts.engine import open_engine
from streamtts.events import Event, SegmentStarted, UtteranceDone, WordStarted
from streamtts.messages import AudioChunk, Planned, Prepared, Segment, WordMark
from streamtts.synthesis import MAX_SYMBOLS_PER_PART, PiperSteps, SpeechSteps
from streamtts.testing import FakeBackend
from streamtts.text.phoneme_ids import PhonemeIds
from streamtts.text.phonemizer import Phonemes

from .harness import engine_audio

TIMEOUT_S = 120
# The second sentence is long to say (digits read one by one): it is
# synthesized in parts, each part its own encoder run.
TEXT = (
    "A short one first. Call 1234567890 1234567890 1234567890 1234567890 1234567890 "
    "1234567890 1234567890 1234567890 then stop."
)


def test_the_long_sentence_is_spoken_in_parts(voice: PiperVoice) -> None:
    core = PiperSteps(voice)
    segments = list(Synthesizer(voice).segments([TEXT]))
    assert len(segments) == 2
    parts = core.prepare(segments[1])
    assert len(parts) >= 2 and parts[-1].last_part
    assert sum(len(p.phonemes.symbols) for p in parts) > MAX_SYMBOLS_PER_PART


def test_plain_path_streaming_equals_whole_in_parts_too(voice: PiperVoice) -> None:
    synthesizer = Synthesizer(voice, SynthesisOptions(seed=5))
    streamed = list(synthesizer.speak([TEXT]))
    whole = list(synthesizer.speak([TEXT], whole=True))
    assert len(streamed) > len(whole) >= 3  # two segments, the second in parts
    a = np.concatenate([c.samples for c in streamed])
    b = np.concatenate([c.samples for c in whole])
    assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-4
    # Parts continue their segment's sample count; the last part ends it.
    second = [c for c in streamed if c.segment.index == 1]
    for before, after in itertools.pairwise(second):
        assert after.start_sample == before.end_sample
    assert [c.is_last for c in second].count(True) == 1 and second[-1].is_last


async def test_trio_path_equals_plain_path_streaming_and_whole(voice: PiperVoice) -> None:
    synthesis = SynthesisOptions(seed=5)
    plain = np.concatenate(
        [c.samples for c in Synthesizer(voice, synthesis).speak([TEXT], whole=True)]
    )
    for whole in (False, True):
        audio = await engine_audio(
            voice, EngineOptions(synthesis=synthesis, whole=whole), TEXT, TIMEOUT_S
        )
        assert audio.shape == plain.shape, whole
        assert np.max(np.abs(audio - plain)) <= 1e-4, whole


def test_the_fake_and_the_real_backend_are_backends(voice: PiperVoice) -> None:
    assert isinstance(FakeBackend(), Backend)
    assert isinstance(ThreadedBackend.for_voice(voice), Backend)
    assert not isinstance(PiperSteps(voice), Backend)  # a core is not a backend


class BeepCore:
    """A toy voice family: a beep per letter, a mark per word. It knows
    nothing of Piper; it only has the three steps of a SpeechSteps."""

    sample_rate_hz = 16000
    samples_per_letter = 400

    def __init__(self) -> None:
        self.warmed = False

    def new_rng(self) -> np.random.Generator:
        return np.random.default_rng(0)

    def warm_up(self) -> None:
        self.warmed = True

    def prepare(self, segment: Segment) -> list[Prepared]:
        letters = tuple(c for c in segment.text if c.isalpha())
        if not letters:
            return []
        ids = PhonemeIds(np.zeros(len(letters), np.int64), np.arange(len(letters) + 1))
        return [Prepared(segment, Phonemes(segment.text, letters, ()), ids)]

    def encode(self, prepared: Prepared, rng: np.random.Generator, sample_offset: int) -> Planned:
        segment, n = prepared.segment, self.samples_per_letter
        marks, at = [], 0
        for word in segment.text.split():
            start = segment.text.index(word, at)
            at = start + len(word)
            before = sum(c.isalpha() for c in segment.text[:start]) * n
            marks.append(WordMark(word, start, at, before, before + len(word) * n))
        total = len(prepared.phonemes.symbols) * n
        return Planned(segment, _Beeps(segment, total, tuple(marks)), total)


class _Beeps:
    def __init__(self, segment: Segment, total: int, marks: tuple[WordMark, ...]) -> None:
        self.segment, self.total, self.marks, self.at = segment, total, marks, 0

    @property
    def done(self) -> bool:
        return self.at >= self.total

    def next_chunk(self) -> AudioChunk:
        start, self.at = self.at, min(self.total, self.at + 1000)
        t = np.arange(start, self.at) / BeepCore.sample_rate_hz
        samples = (0.2 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
        marks = tuple(m for m in self.marks if start <= m.start_sample < self.at)
        return AudioChunk(samples, self.segment, start, self.at >= self.total, marks)


async def test_a_second_voice_family_plugs_into_the_engine() -> None:
    core: SpeechSteps = BeepCore()
    events: list[Event] = []
    sink = NullSink()
    with trio.fail_after(TIMEOUT_S):
        async with open_engine(
            backend=ThreadedBackend(core), sink=sink, on_event=events.append
        ) as engine:
            assert isinstance(core, BeepCore) and core.warmed  # ready means warmed up
            result = await engine.say("Beep boop. Second sentence here!")
    words = [e.word for e in events if isinstance(e, WordStarted)]
    assert words == ["Beep", "boop.", "Second", "sentence", "here!"]
    assert [type(e) for e in events if not isinstance(e, WordStarted)] == [
        SegmentStarted,
        SegmentStarted,
        UtteranceDone,
    ]
    letters = sum(c.isalpha() for c in "Beep boop. Second sentence here!")
    assert sink.accepted == letters * BeepCore.samples_per_letter
    assert not result.interrupted and result.stats.ttfa_s is not None
