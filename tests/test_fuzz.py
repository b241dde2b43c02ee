"""Fuzzing the text path and the engine. CI runs a reduced form; set
STREAMTTS_FUZZ_EXAMPLES=10000 for the long run (each test then draws that
many inputs)."""

from __future__ import annotations

import os

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamtts import StreamTTSError, open_engine
from streamtts.testing import FakeBackend, FakeSink
from streamtts.text.phonemizer import Phonemizer
from streamtts.text.segmenter import Segmenter, SegmenterOptions

EXAMPLES = int(os.environ.get("STREAMTTS_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Any code point, surrogates and controls included; plus the characters
# that drive the segmenter's decisions, so boundaries are hit often.
any_char = st.characters(codec=None, exclude_categories=())
TRICKY = [
    *".!?…,;:—–-\n \"'()[]@/:0123456789Dr.e.g.U.S.http://www.",
    *["...", "\n\n", "Dr. ", "3.14", "e.g. ", "https://a.b/c. ", "😀"],
]
tricky = st.sampled_from(TRICKY)
texts = st.lists(st.one_of(any_char, tricky), max_size=120).map("".join)


@FUZZ
@given(
    text=texts,
    cuts=st.lists(st.integers(0, 500), max_size=10),
    max_chars=st.sampled_from([16, 50, 400]),
)
def test_segmenter_never_drops_or_splits_differently(
    text: str, cuts: list[int], max_chars: int
) -> None:
    def run(pieces: list[str]) -> list[str]:
        segmenter = Segmenter(SegmenterOptions(max_chars=max_chars))
        out = [s.text for piece in pieces for s in segmenter.feed(piece)]
        return out + [s.text for s in segmenter.flush()]

    whole = run([text])
    assert "".join(whole) == text  # nothing dropped, nothing added
    assert all(len(s) <= max_chars for s in whole)
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert run(pieces) == whole


PHONEMIZER = Phonemizer("en-us")


@FUZZ
@given(text=texts)
def test_phonemizer_handles_any_text(text: str) -> None:
    phonemes = PHONEMIZER.phonemize(text)
    assert all(len(symbol) == 1 for symbol in phonemes.symbols)
    previous_end = 0
    for word in phonemes.words:
        assert 0 <= word.text_start <= word.text_end <= len(text)
        assert previous_end <= word.symbol_start <= word.symbol_end <= len(phonemes.symbols)
        previous_end = word.symbol_start


@FUZZ
@given(pieces=st.lists(texts, min_size=1, max_size=6))
def test_engine_with_a_fast_sink_only_raises_named_errors(pieces: list[str]) -> None:
    async def main() -> None:
        backend = FakeBackend(phonemize=True, encode_s=0.001, first_chunk_s=0.001, chunk_s=0.001)
        async with open_engine(backend=backend, sink=FakeSink(slowdown=0.01)) as engine:
            try:
                async with engine.stream() as stream:
                    for piece in pieces:
                        await stream.send(piece)
            except StreamTTSError:
                pass
            result = await engine.say("Still fine.")
            assert result.stats.audio_s > 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
