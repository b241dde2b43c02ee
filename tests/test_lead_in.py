"""Trimming the voice's quiet lead-in (EngineOptions.trim_lead_in): the
utterance starts at its first audible sample, words and marks move with
the audio, and nothing after the lead-in changes."""

from __future__ import annotations

import numpy as np
import pytest

from streamtts import EngineOptions, SynthesisOptions, open_engine
from streamtts.dsp.levels import AUDIBLE_THRESHOLD, first_audible
from streamtts.events import WordStarted
from streamtts.messages import AudioChunk, Segment, WordMark
from streamtts.output import LEAD_IN_MARGIN_S, OutputCore
from streamtts.sinks.callback import CallbackSink
from streamtts.voices.piper import PiperVoice

RATE = 1000  # one sample a millisecond: margins read as milliseconds
MARGIN = round(LEAD_IN_MARGIN_S * RATE)


def _chunk(
    segment: Segment, start: int, samples: np.ndarray, last: bool, *marks: WordMark
) -> AudioChunk:
    return AudioChunk(samples.astype(np.float32), segment, start, last, marks)


def _word(text: str, at: int) -> WordMark:
    return WordMark(text, 0, len(text), at, at + 10)


def test_a_quiet_first_chunk_is_dropped_and_the_next_starts_at_its_sound() -> None:
    segment = Segment("ab cd", 0, 5, "end", 0)
    quiet = np.full(40, AUDIBLE_THRESHOLD / 2)
    sound = np.concatenate([np.zeros(20), np.full(30, 0.5)])
    core = OutputCore(0, RATE, RATE, 1.0, 0.0, trim_lead_in=True)

    first = core.place(_chunk(segment, 0, quiet, False, _word("ab", 5)), position=0)
    assert first.samples.size == 0 and not first.first_write
    second = core.place(_chunk(segment, 40, sound, True, _word("cd", 58)), position=0)
    # The sound at segment sample 60 plays MARGIN samples after the start.
    assert second.samples.size == 50 - (20 - MARGIN)
    assert first_audible(second.samples) == MARGIN and second.first_write
    words = {m.word.text: m.position for m in (*first.marks, *second.marks) if m.word}
    # A word inside the trimmed part starts with the first kept sample;
    # one after it keeps its distance to the sound.
    assert words == {"ab": 0, "cd": 58 - (60 - MARGIN)}


def test_only_the_first_segment_is_trimmed() -> None:
    core = OutputCore(0, RATE, RATE, 1.0, 0.0, trim_lead_in=True)
    one, two = Segment("a.", 0, 2, "end", 0), Segment("b.", 3, 5, "end", 1)
    loud = np.concatenate([np.zeros(30), np.ones(10)])
    assert core.place(_chunk(one, 0, loud, True), 0).samples.size == 10 + MARGIN
    # The second segment's opening is the voice's pause between sentences.
    assert core.place(_chunk(two, 0, loud, True), 10 + MARGIN).samples.size == 40


def test_without_trimming_every_sample_plays() -> None:
    core = OutputCore(0, RATE, RATE, 1.0, 0.0)
    segment = Segment("a", 0, 1, "end", 0)
    quiet = np.zeros(40)
    assert core.place(_chunk(segment, 0, quiet, False, _word("a", 5)), 0).samples.size == 40


async def _record(voice: PiperVoice, text: str, trim: bool) -> tuple[np.ndarray, list[int]]:
    blocks: list[np.ndarray] = []
    words: list[int] = []

    async def keep(samples: np.ndarray) -> None:
        blocks.append(samples.copy())

    def on_event(event: object) -> None:
        if isinstance(event, WordStarted):
            words.append(event.position)

    options = EngineOptions(synthesis=SynthesisOptions(seed=3), trim_lead_in=trim)
    async with open_engine(voice, CallbackSink(keep), options=options, on_event=on_event) as engine:
        await engine.say(text)
    return np.concatenate(blocks), words


@pytest.mark.trio
async def test_the_real_voice_starts_at_its_first_sound(voice: PiperVoice) -> None:
    text = "Help me open the file."
    whole, words = await _record(voice, text, trim=False)
    trimmed, moved = await _record(voice, text, trim=True)
    lead_in = whole.size - trimmed.size
    onset = first_audible(whole)
    assert onset is not None
    # Piper's lead-in here is tens of milliseconds; all of it but the margin goes.
    assert lead_in == onset - round(LEAD_IN_MARGIN_S * voice.sample_rate_hz) > 0
    np.testing.assert_array_equal(trimmed, whole[lead_in:])  # the rest, sample for sample
    assert moved == [max(0, w - lead_in) for w in words]
