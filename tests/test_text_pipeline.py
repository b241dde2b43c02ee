"""The text pipeline (front end → segmenter → annotate): split-invariant,
the utterance's rate on top of SSML's, and a text layer with no import
circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtts.errors import ConfigError
from streamtts.text.frontend import FrontEnd, TextOptions
from streamtts.text.pipeline import TextPipeline
from streamtts.text.segment import Segment
from streamtts.text.segmenter import Segmenter, SegmenterOptions

from .conftest import ROOT

PLAIN_PARTS = [
    "It costs $3.50 now.",
    "A $2.5 billion plan, in St. Louis.",
    "Due 12/25/2023, e.g. soon.",
    "Visit https://www.example.org/a/b?c=d today!",
    "Hello World, Bob. NASA said so",
    "first line\nsame sentence.",
    "\n\n",
    "Wait... what? Well... Okay",
]
MARKDOWN_PARTS = [
    "## Results\n",
    "- It costs **$5**\n",
    "1. First [thing](https://x.io/a)\n",
    "```py\nx = 1\n```\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n",
    "Great job 🎉! `code` here.\n",
    "> Be kind.\n",
]
SSML_PARTS = [
    "<speak>One <mark name='m1'/>two.</speak>",
    '<prosody rate="slow" pitch="+2st">Slow St. Louis</prosody>',
    " costs $2 billion ",
    "<emphasis>now</emphasis>",
    '<phoneme ph="həlˈoʊ">xyzzy</phoneme>.',
    '<say-as interpret-as="digits">2024</say-as>',
    'Wait<break time="800ms"/>now. Tom &amp; Jerry',
]
OPTIONS = {
    "plain": TextOptions(),
    "markdown": TextOptions(format="markdown"),
    "ssml": TextOptions(format="ssml"),
    "tones": TextOptions(capitals="tone", punctuation="some"),
}
PARTS = {
    "plain": PLAIN_PARTS,
    "markdown": MARKDOWN_PARTS + PLAIN_PARTS,
    "ssml": SSML_PARTS,
    "tones": PLAIN_PARTS,
}


def segments_of(
    pieces: list[str], options: TextOptions, rate: float = 1.0, first_words: int = 3
) -> tuple[list[Segment], list[tuple[int, str]]]:
    """Every segment of ``pieces``, and the SSML marks."""
    pipeline = TextPipeline(
        FrontEnd(options), Segmenter(SegmenterOptions(first_words, max_chars=60)), rate=rate
    )
    out: list[Segment] = []
    for piece in pieces:
        out += pipeline.feed(piece)
    return out + pipeline.end(), pipeline.marks


def cut(text: str, sizes: list[int]) -> list[str]:
    """``text`` in pieces of the given sizes (the rest in one)."""
    pieces, at = [], 0
    for size in sizes:
        pieces.append(text[at : at + size])
        at += size
    return [*pieces, text[at:]]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(sorted(OPTIONS)))
    parts = draw(st.lists(st.sampled_from(PARTS[kind]), min_size=1, max_size=6))
    return kind, "".join(parts)


@settings(max_examples=150, deadline=None)
@given(document=documents(), sizes=st.lists(st.integers(1, 15), max_size=60))
def test_whole_char_by_char_or_in_pieces_gives_the_same_segments(
    document: tuple[str, str], sizes: list[int]
) -> None:
    kind, text = document
    options = OPTIONS[kind]
    whole = segments_of([text], options)
    assert segments_of(list(text), options) == whole
    assert segments_of(cut(text, sizes), options) == whole
    frontend = FrontEnd(options)
    segments, _ = whole
    assert "".join(s.text for s in segments) == frontend.feed(text) + frontend.flush()


def test_segments_tile_the_text_handed_on_and_point_into_the_callers() -> None:
    text = "## Plan\nIt is **very** cheap: only $3.50 today.\n- one\n- two\n"
    frontend = FrontEnd(TextOptions(format="markdown"))
    said = frontend.feed(text) + frontend.flush()
    pipeline = TextPipeline(FrontEnd(TextOptions(format="markdown")))
    segments = pipeline.feed(text) + pipeline.end()
    assert "".join(s.text for s in segments) == said
    assert [s.index for s in segments] == list(range(len(segments)))
    words = {said[s.start : s.end].strip(): s for s in segments}
    cheap = next(s for key, s in words.items() if key.startswith("It is"))
    assert text[pipeline.offsets.start(cheap.start) :].startswith("It is **very**")


def test_marks_come_out_with_the_text_they_stand_in() -> None:
    ssml = '<speak>One <mark name="m1"/>two <mark name="m2"/>three.</speak>'
    pipeline = TextPipeline(FrontEnd(TextOptions(format="ssml")))
    said = "".join(s.text for s in pipeline.feed(ssml) + pipeline.end())
    assert [name for _, name in pipeline.marks] == ["m1", "m2"]
    assert [said[at:].split()[0] for at, _ in pipeline.marks] == ["two", "three."]
    assert ssml[pipeline.offsets.start(pipeline.marks[0][0]) :].startswith("two")


def test_rate_multiplies_ssml_prosody() -> None:
    ssml = (
        '<speak><prosody rate="slow">Slowly said words here.</prosody> Plain words here. '
        '<prosody rate="x-fast">Fast ones.</prosody> <emphasis>Stressed.</emphasis></speak>'
    )
    options = TextOptions(format="ssml")
    as_written, _ = segments_of([ssml], options)
    faster, _ = segments_of([ssml], options, rate=1.5)
    assert {round(s.rate, 3) for s in as_written if s.speakable} == {0.8, 1.0, 1.6, 0.94}
    assert len(faster) == len(as_written)
    for said, sped in zip(as_written, faster, strict=True):
        assert sped.rate == pytest.approx(said.rate * 1.5)
        assert (sped.text, sped.start, sped.volume, sped.pitch) == (
            said.text,
            said.start,
            said.volume,
            said.pitch,
        )


def test_rate_applies_to_plain_text_and_stalls_too() -> None:
    pipeline = TextPipeline(rate=0.5)
    assert pipeline.feed("Hello there, my friend") == []
    assert pipeline.pending_chars == len("Hello there, my ")  # "friend" may go on
    stalled = pipeline.stall()
    assert [(s.text, s.reason, s.rate) for s in stalled] == [("Hello there, my ", "stall", 0.5)]
    assert pipeline.pending_chars == 0
    assert [(s.text, s.rate) for s in pipeline.end()] == [("friend", 0.5)]


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_a_rate_that_is_not_a_positive_factor_is_refused(rate: float) -> None:
    with pytest.raises(ConfigError, match="rate must be a positive factor"):
        TextPipeline(rate=rate)


# -- the text layer's imports ------------------------------------------------------------

TEXT = ROOT / "streamtts" / "text"


def imported_modules(path: Path) -> set[str]:
    """Every streamtts module ``path`` imports, wherever the import stands
    (under ``if TYPE_CHECKING:`` and inside functions too)."""
    package = "streamtts.text"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("streamtts")}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            if not module.startswith("streamtts"):
                continue
            # "from . import x" names a module; "from .x import y" a name in one.
            names = [f"{module}.{alias.name}" for alias in node.names]
            modules = {name for name in names if _is_module(name)}
            found |= modules or {module}
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (ROOT / relative.with_suffix(".py")).exists() or (ROOT / relative).is_dir()


def test_the_text_layer_imports_only_itself_and_errors_with_no_circles() -> None:
    graph = {
        f"streamtts.text.{path.stem}": imported_modules(path)
        for path in sorted(TEXT.glob("*.py"))
        if path.stem != "__init__"
    }
    for module, imports in graph.items():
        outside = {m for m in imports if not m.startswith("streamtts.text")}
        assert outside <= {"streamtts.errors"}, (module, outside)

    acyclic: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "an import circle: " + " → ".join([*path, module])
        if module not in acyclic:
            for imported in sorted(graph.get(module, ())):
                visit(imported, [*path, module])
            acyclic.add(module)

    for module in graph:
        visit(module, [])


def test_messages_imports_its_types_for_real() -> None:
    tree = ast.parse((ROOT / "streamtts" / "messages.py").read_text(encoding="utf-8"))
    guards = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
    ]
    assert guards == []
