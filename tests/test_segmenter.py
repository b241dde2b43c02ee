"""The segmenter: table tests of each rule, and split-invariance properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtts.text.segmenter import Segment, Segmenter, SegmenterOptions

from .data.hostile import LONG_LINE


def segments(pieces: list[str], options: SegmenterOptions | None = None) -> list[Segment]:
    segmenter = Segmenter(options)
    out: list[Segment] = []
    for piece in pieces:
        out += segmenter.feed(piece)
    return out + segmenter.flush()


def texts(text: str, **options: int) -> list[str]:
    return [s.text.strip() for s in segments([text], SegmenterOptions(**options))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Pi is 3.14. Next", ["Pi is 3.14.", "Next"]),
        ("At 3:30 sharp, 1,000 people came. Yes", ["At 3:30 sharp, 1,000 people came.", "Yes"]),
        ("Dr. Smith and Mr. Jones met. Fine", ["Dr. Smith and Mr. Jones met.", "Fine"]),
        ("Bring snacks, e.g. chips. Go", ["Bring snacks, e.g. chips.", "Go"]),
        (
            "The U.S. economy grew. In the U.S. The end",
            ["The U.S. economy grew.", "In the U.S.", "The end"],
        ),
        ("J. R. R. Tolkien wrote. Yes", ["J. R. R. Tolkien wrote.", "Yes"]),
        ("Wait... what? Well... Okay", ["Wait... what?", "Well...", "Okay"]),
        ("It went… quiet. Then", ["It went… quiet.", "Then"]),
        ("Visit https://example.com/a.b?c=1. Next", ["Visit https://example.com/a.b?c=1.", "Next"]),
        ("Mail jane.doe@example.co.uk today. Done", ["Mail jane.doe@example.co.uk today.", "Done"]),
        ("See www.example.org. Ok", ["See www.example.org.", "Ok"]),
        ('He said "no." Then left', ['He said "no."', "Then left"]),
        ("(It was late.) We left", ["(It was late.)", "We left"]),
        ("- apples\n- pears\n- plums", ["- apples", "- pears", "- plums"]),
        ("Buy:\n1. eggs\n2. milk", ["Buy:", "1. eggs", "2. milk"]),
        ("first line\nsame sentence. End", ["first line\nsame sentence.", "End"]),
        ("Para one\n\nPara two", ["Para one", "Para two"]),
        ("It ended.Then it began", ["It ended.", "Then it began"]),
        ("北京很大。上海也很大！好", ["北京很大。", "上海也很大！", "好"]),
        ("Really?! Yes", ["Really?!", "Yes"]),
        ("Chapter 1. Intro", ["Chapter 1.", "Intro"]),
        ("See Fig. 3 for more. Ok", ["See Fig. 3 for more.", "Ok"]),
        ("No punctuation at all", ["No punctuation at all"]),
    ],
)
def test_boundaries(text: str, expected: list[str]) -> None:
    assert texts(text, first_fragment_min_words=0) == expected


def test_early_first_fragment_at_a_clause_mark() -> None:
    text = "When the rain finally stopped, we went outside, and it was lovely. Later, we ate."
    assert texts(text) == [
        "When the rain finally stopped,",
        "we went outside, and it was lovely.",
        "Later, we ate.",
    ]
    # Too few words for a fragment: the clause mark is not a cut.
    assert texts("Hello there, friend. Bye")[0] == "Hello there, friend."
    assert (
        texts("First off: the plan; then - the rest.", first_fragment_min_words=2)[0]
        == "First off:"
    )


def test_long_segments_are_capped_at_a_clause_then_a_space_then_hard() -> None:
    clauses = ", ".join(["one two three four five"] * 20) + "."
    capped = segments([clauses], SegmenterOptions(max_chars=100, first_fragment_min_words=0))
    assert all(len(s.text) <= 100 for s in capped)
    assert capped[0].text.endswith(",") and capped[0].reason == "length"
    words = " ".join(["word"] * 100)
    assert all(len(s.text) <= 100 for s in segments([words], SegmenterOptions(max_chars=100)))
    blob = "x" * 1000
    parts = segments([blob], SegmenterOptions(max_chars=100))
    assert [len(s.text) for s in parts] == [100] * 10


def test_a_20000_character_line_keeps_every_word_in_bounded_segments() -> None:
    line = LONG_LINE
    options = SegmenterOptions()
    parts = segments([line[i : i + 37] for i in range(0, len(line), 37)], options)
    assert all(len(s.text) <= options.max_chars for s in parts)
    assert " ".join(s.text for s in parts).split() == line.split()


def test_boundary_is_emitted_as_soon_as_it_is_certain() -> None:
    segmenter = Segmenter(SegmenterOptions(first_fragment_min_words=0))
    assert segmenter.feed("Are you there?") == []  # "?!" or '?"' may follow
    assert [s.text for s in segmenter.feed(" ")] == ["Are you there?"]
    assert segmenter.feed("It costs 3.") == []  # could be 3.50
    assert segmenter.feed("50 dollars.") == []
    assert [s.text for s in segmenter.feed(" And")] == [" It costs 3.50 dollars."]
    assert segmenter.feed(" Dr.") == []
    assert segmenter.feed(" ") == []  # Dr. is a title: never an end
    assert [s.text for s in segmenter.flush()] == [" And Dr. "]


def test_stall_emits_whole_words_only() -> None:
    segmenter = Segmenter()
    segmenter.feed("the answer is forty")
    stalled = segmenter.stall()
    assert [s.text for s in stalled] == ["the answer is "] and stalled[0].reason == "stall"
    segmenter.feed("-two and more.")
    assert [s.text for s in segmenter.stall()] == ["forty-two and more."]
    assert segmenter.flush() == []


def test_segments_carry_offsets_and_indices() -> None:
    out = segments(["One. Two. Three."], SegmenterOptions(first_fragment_min_words=0))
    assert [(s.start, s.end, s.index) for s in out] == [(0, 4, 0), (4, 9, 1), (9, 16, 2)]


SAMPLE_TEXTS = [
    "Hello there, how are you? Dr. Smith paid $3.50 at 3:30 p.m. for 1,000 items.",
    'She said "wait... no." Then: visit https://example.com/x. Mail a@b.co now!',
    "List:\n- one\n- two\n\nThe U.S. and J. R. R. Tolkien. It ended.Then 北京很大。Ok",
    "When the rain stopped, we went out; it was late – very late. Fig. 2 shows it.",
]


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(st.sampled_from(SAMPLE_TEXTS), st.text(max_size=200)),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    max_chars=st.sampled_from([16, 40, 400]),
)
def test_any_split_gives_the_same_segments_and_rejoins(
    text: str, cuts: list[int], max_chars: int
) -> None:
    options = SegmenterOptions(max_chars=max_chars)
    whole = segments([text], options)
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    split = segments(pieces, options)
    assert [(s.text, s.reason) for s in split] == [(s.text, s.reason) for s in whole]
    assert "".join(s.text for s in whole) == text
    assert all(len(s.text) <= max_chars for s in whole)
