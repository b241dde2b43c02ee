"""Caption cues from the words as they are heard (sans-IO).

Feed a :class:`CueBuilder` the caller's text (all at once, or piece by
piece as it is sent) and the engine's :class:`~streamtts.events.WordStarted`
events; it hands back each :class:`Cue` once it is complete. The times are
the voice's own: a word's ``position`` and ``end_position`` are the samples
where its sound starts and ends, so a cue starts with its first word's
sound and ends with its last word's, not at a time estimated from the text.

Cues follow the usual caption conventions: at most two lines of about 42
characters, at most 7 seconds each, a new cue at every sentence end, a
long sentence split at a clause end (a comma, a semicolon, a dash) where
one falls late enough in the cue, else between words, never inside one.
The cue text is the text as written: the caller's characters from the
first word to the last (with the punctuation around them), whitespace
collapsed and markdown or SSML markup between the words left out, never
the spoken form ("$3.50" stays "$3.50"). A cue shorter than ``min_cue_s``
stays on screen until the next one starts, at most that long; the last
cue ends with the last word's sound.

No files and no clock here: ``streamtts.caption_files`` writes WebVTT and
SubRip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .errors import ConfigError
from .events import Event, Interrupted, UtteranceDone, WordStarted

__all__ = ["CaptionOptions", "Cue", "CueBuilder", "break_lines", "cues_from_events"]

# Between two words: a sentence ends where the segmenter cut the text and
# one of these stands between them (it knows "Dr." from an end).
_SENTENCE_END = re.compile(r"[.!?…]|\n[ \t]*\n")
# Where the sentence being spoken ends, looking ahead in the text (to
# balance a split; "Dr." may fool it, which costs a less even split only).
_SENTENCE_END_IN_TEXT = re.compile(r"[.!?…](?=\s|$)")
_CLAUSE_END = re.compile(r"[,;:—–)]|\s-\s")
# What a reader of the captions should not see between the words: SSML
# tags, a markdown link's target, emphasis, code and heading marks.
_MARKUP = re.compile(r"<[^>]*>|\]\([^)]*\)|[*_`#~|\[\]]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CaptionOptions:
    """Caption conventions: ``max_line_chars`` per line, ``max_lines`` per
    cue, ``max_cue_s`` per cue; a cue shorter than ``min_cue_s`` is held
    until the next starts, at most that long; a clause end is a split point
    only ``min_split_chars`` or more into a cue."""

    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_s: float = 7.0
    min_cue_s: float = 1.0
    min_split_chars: int = 24

    def __post_init__(self) -> None:
        if self.max_line_chars < 10 or self.max_lines < 1:
            raise ConfigError("captions need max_line_chars >= 10 and max_lines >= 1")
        if not 0.5 <= self.max_cue_s <= 60.0:
            raise ConfigError(f"max_cue_s must be in [0.5, 60], got {self.max_cue_s}")
        if not 0.0 <= self.min_cue_s <= self.max_cue_s:
            raise ConfigError(f"min_cue_s must be in [0, max_cue_s], got {self.min_cue_s}")

    @property
    def max_chars(self) -> int:
        return self.max_line_chars * self.max_lines


@dataclass(frozen=True)
class Cue:
    """One caption: shown from ``start_s`` to ``end_s`` (seconds of the
    audio), ``text`` in lines joined by newlines; ``text_start`` and
    ``text_end`` are its first and last word's offsets in the caller's text."""

    index: int  # 1, 2, ... in order
    start_s: float
    end_s: float
    text: str
    text_start: int
    text_end: int

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


@dataclass(frozen=True)
class _Word:
    text_start: int
    text_end: int
    start: int  # samples at the sink's rate
    end: int
    segment: int
    before: str  # "sentence", "clause" or "" : what ends between it and the word before


def break_lines(text: str, max_line_chars: int = 42, max_lines: int = 2) -> str:
    """``text`` in at most ``max_lines`` lines, broken between words where
    the longest line is shortest (the lower line the longer on a tie, and
    after punctuation when that costs nothing)."""
    if len(text) <= max_line_chars or max_lines < 2:
        return text
    spaces = [k for k, c in enumerate(text) if c == " "]
    if not spaces:
        return text

    def cost(k: int) -> tuple[int, int, int]:
        first, rest = text[:k], text[k + 1 :]
        longest = max(
            len(first), len(break_lines(rest, max_line_chars, max_lines - 1).split("\n")[0])
        )
        after_punctuation = 0 if first[-1:] in ",;:.!?" else 1
        return longest, after_punctuation, len(first) > len(rest)

    best = min(spaces, key=cost)
    rest = break_lines(text[best + 1 :], max_line_chars, max_lines - 1)
    return f"{text[:best]}\n{rest}"


class CueBuilder:
    """Words in, cues out, as they complete (see the module docstring).

    ``sample_rate_hz`` is the sink's rate (the events' positions count its
    samples); ``text`` the caller's text so far, grown with
    :meth:`add_text` as the caller sends more. One builder follows one
    utterance's text: events of any other utterance are ignored. Not
    thread-safe; call it from where the events arrive.
    """

    def __init__(
        self, sample_rate_hz: int, text: str = "", options: CaptionOptions | None = None
    ) -> None:
        if sample_rate_hz <= 0:
            raise ConfigError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        self.sample_rate_hz = sample_rate_hz
        self.options = options or CaptionOptions()
        self._text = text
        self._words: list[_Word] = []  # the cue being built
        self._utterance: int | None = None
        self._count = 0
        self._last_end = 0
        self.finished = False

    @property
    def text(self) -> str:
        return self._text

    def add_text(self, piece: str) -> None:
        """More of the caller's text, as it is sent to the engine."""
        self._text += piece

    def feed(self, event: Event) -> list[Cue]:
        """Any engine event: words make cues; the utterance's end (done or
        interrupted) closes the last one."""
        if isinstance(event, WordStarted):
            return self.word(event)
        if isinstance(event, (UtteranceDone, Interrupted)) and event.utterance == self._utterance:
            return self.finish()
        return []

    def word(self, event: WordStarted) -> list[Cue]:
        """A word is heard; returns the cues it completes (often none)."""
        if self.finished:
            return []
        if self._utterance is None:
            self._utterance = event.utterance
        elif event.utterance != self._utterance:
            return []
        start = max(event.position, self._last_end)
        if self._words and event.text_start < self._words[-1].text_end:
            # One written token said as several words ("12/25/2023"): one word here.
            last = self._words[-1]
            end = max(last.end, event.end_position)
            self._words[-1] = replace(last, text_end=max(last.text_end, event.text_end), end=end)
            self._last_end = end
            return []
        word = _Word(
            event.text_start,
            event.text_end,
            start,
            max(start, event.end_position),
            event.segment_index,
            self._boundary(event),
        )
        done: list[Cue] = []
        if self._words and word.before == "sentence":
            done.append(self._close(len(self._words), next_start=word.start))
        while self._words and self._too_long([*self._words, word]):
            done.append(self._close(self._split_point(), next_start=word.start))
        self._words.append(word)
        self._last_end = word.end
        return done

    def finish(self) -> list[Cue]:
        """The utterance is over: the last cue, ending with its last word's sound."""
        self.finished = True
        if not self._words:
            return []
        return [self._close(len(self._words), next_start=None)]

    # -- rules -----------------------------------------------------------------------------

    def _boundary(self, event: WordStarted) -> str:
        if not self._words:
            return ""
        last = self._words[-1]
        # From the last character of the word before: a written token may
        # end with its punctuation ("12/25/2023," is said as one).
        between = self._text[max(last.text_start, last.text_end - 1) : event.text_start]
        if event.segment_index != last.segment and _SENTENCE_END.search(between):
            return "sentence"
        if event.segment_index != last.segment or _CLAUSE_END.search(between):
            return "clause"
        return ""

    def _too_long(self, words: list[_Word]) -> bool:
        seconds = (words[-1].end - words[0].start) / self.sample_rate_hz
        return (
            seconds > self.options.max_cue_s or len(self._cue_text(words)) > self.options.max_chars
        )

    def _split_point(self) -> int:
        """How many of the waiting words make the next cue: up to the last
        clause end far enough in that leaves no short tail of the sentence
        (the text says where it ends) on its own, else up to the last
        clause end far enough in, else all of them."""
        words, least = self._words, self.options.min_split_chars
        ends = [k for k in range(len(words) - 1, 0, -1) if words[k].before]
        ends = [k for k in ends if len(self._cue_text(words[:k])) >= least]
        sentence_end = _SENTENCE_END_IN_TEXT.search(self._text, words[-1].text_end)
        stop = sentence_end.end() if sentence_end else len(self._text)
        for k in ends:
            if len(_SPACES.sub(" ", self._text[words[k].text_start : stop])) >= least:
                return k
        return ends[0] if ends else len(words)

    def _close(self, count: int, next_start: int | None) -> Cue:
        """The first ``count`` waiting words as a cue; ``next_start``: where
        the next word starts (None: there is none, the last cue)."""
        words, self._words = self._words[:count], self._words[count:]
        if self._words:  # what stays opens the next cue
            self._words[0] = replace(self._words[0], before="")
            next_start = self._words[0].start
        rate = self.sample_rate_hz
        start, end = words[0].start, words[-1].end
        if next_start is not None:  # a short cue stays up until the next one
            end = max(end, min(start + round(self.options.min_cue_s * rate), next_start))
        self._count += 1
        text = break_lines(
            self._cue_text(words), self.options.max_line_chars, self.options.max_lines
        )
        return Cue(
            self._count, start / rate, end / rate, text, words[0].text_start, words[-1].text_end
        )

    def _cue_text(self, words: list[_Word]) -> str:
        text = self._text
        parts = [_edge_before(text, words[0].text_start)]
        for k, word in enumerate(words):
            if k:
                parts.append(_clean(text[words[k - 1].text_end : word.text_start]))
            parts.append(text[word.text_start : word.text_end])
        parts.append(_edge_after(text, words[-1].text_end))
        return _SPACES.sub(" ", "".join(parts)).strip()


def _clean(between: str) -> str:
    """What stands between two words, as a reader should see it (a tag
    between them still parts them)."""
    return _MARKUP.sub(lambda m: " " if m.group().startswith("<") else "", between)


def _edge_before(text: str, start: int) -> str:
    """Opening punctuation right before the first word ("(", a quote)."""
    k = start
    while k > 0 and not text[k - 1].isspace() and not text[k - 1].isalnum():
        k -= 1
    return _MARKUP.sub("", text[k:start])


def _edge_after(text: str, end: int) -> str:
    """Punctuation right after the last word (a full stop, a comma, a quote)."""
    k = end
    while k < len(text) and not text[k].isspace() and not text[k].isalnum():
        k += 1
    return _MARKUP.sub("", text[end:k])


def cues_from_events(
    events: Iterable[Event],
    text: str,
    sample_rate_hz: int,
    options: CaptionOptions | None = None,
) -> list[Cue]:
    """Every cue of one utterance, from its events kept (or replayed)."""
    builder = CueBuilder(sample_rate_hz, text, options)
    cues: list[Cue] = []
    for event in events:
        cues += builder.feed(event)
    return cues + builder.finish()
