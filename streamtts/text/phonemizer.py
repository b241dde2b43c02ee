"""Text → IPA phonemes with clause punctuation and word spans (sans-IO).

Piper voices are trained on espeak-ng's IPA, one clause at a time, with the
clause's punctuation kept as a symbol (it shapes the prosody) and a space
between clauses. espeakng-loader's libespeak-ng has no
``espeak_TextToPhonemesWithTerminator``, so the terminator is recovered from
the text each call consumed: espeak stops a little past the clause end (it
reads the next character ahead), and the punctuation sits in the run of
non-word characters at the end of the consumed text.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from ._espeak import RawClause, espeak_clauses, espeak_word_starts

__all__ = ["Phonemes", "Phonemizer", "WordSpan", "clean_text"]

_log = logging.getLogger(__name__)

# espeak's clause punctuation as Piper voices spell it. The first such
# character of a run decides ("?!" asks, "!!!" exclaims once).
_CLAUSE_PUNCTUATION = {
    ".": ".",
    "?": "?",
    "!": "!",
    ",": ",",
    ";": ";",
    ":": ":",
    # espeak treats a spaced dash as a clause break of the semicolon kind.
    "–": ";",
    "—": ";",
    # Full-width and CJK forms that espeak also breaks on.
    "。": ".",
    "？": "?",
    "！": "!",
    "，": ",",
    "、": ",",
    "；": ";",
    "：": ":",
}
_ELLIPSES = ("...", "…")
_CLOSERS = "\"'”’»)]}›」』"
# espeak marks a switch of language inside a clause as "(fr)...(en)".
_LANGUAGE_FLAG = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)")
_TOKEN = re.compile(r"\S+")
_TOKEN_EDGES = "\"'“”‘’«»()[]{}<>.,;:!?…–—-"
_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@dataclass(frozen=True)
class WordSpan:
    """One spoken word: where it is in the text and in the symbols."""

    text_start: int
    text_end: int
    symbol_start: int
    symbol_end: int


@dataclass(frozen=True)
class Phonemes:
    """The phonemes of one segment of text.

    ``symbols`` are single code points (NFD), including spaces between words
    and clause punctuation. Each word span maps a stretch of ``text`` to the
    symbols espeak produced for it (a number read as several words maps to
    the whole number).
    """

    text: str
    symbols: tuple[str, ...]
    words: tuple[WordSpan, ...]

    def __repr__(self) -> str:
        return f"Phonemes({''.join(self.symbols)!r}, words={len(self.words)})"

    @property
    def ipa(self) -> str:
        return "".join(self.symbols)

    def split(self, max_symbols: int) -> list[Phonemes]:
        """Parts of at most ``max_symbols`` symbols, cut between words.

        A short text can still be long to say ("12345678901234567890" is
        dozens of words); the model's cost and memory grow with the symbols,
        so long ones are spoken in parts. Cuts go after clause punctuation
        where possible, else at a space, else (one enormous word) anywhere.
        """
        parts: list[Phonemes] = []
        start = 0
        symbols = self.symbols
        while len(symbols) - start > max_symbols:
            limit = start + max_symbols
            window = symbols[start:limit]
            cut = 0
            for k in range(len(window) - 1, 0, -1):
                if window[k] == " " and window[k - 1] in ",.?!;:":
                    cut = k + 1
                    break
            if cut == 0:
                spaces = [k for k in range(len(window)) if window[k] == " "]
                cut = spaces[-1] + 1 if spaces and spaces[-1] > 0 else len(window)
            parts.append(self._slice(start, start + cut))
            start += cut
        parts.append(self._slice(start, len(symbols)))
        return parts

    def _slice(self, start: int, stop: int) -> Phonemes:
        words = tuple(
            WordSpan(
                w.text_start, w.text_end, w.symbol_start - start, min(w.symbol_end, stop) - start
            )
            for w in self.words
            if start <= w.symbol_start < stop
        )
        return Phonemes(self.text, self.symbols[start:stop], words)


def clean_text(text: str) -> tuple[str, list[int]]:
    """Make text safe for espeak, keeping a map back to the original.

    Control characters, NUL (which would end the C string), lone surrogates
    and invisible format characters become spaces or disappear; returns the
    cleaned text and, for each of its characters, the index in ``text``.
    """
    out: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category == "Cs":  # lone surrogate: cannot be encoded as UTF-8
            continue
        if category == "Cf":  # zero-width, bidi marks, soft hyphen: not spoken
            continue
        if category == "Cc" and char != "\n":
            char = " "
        out.append(char)
        where.append(index)
    return "".join(out), where


def _terminator(consumed: str, at_end: bool) -> tuple[str, bool]:
    """The clause punctuation symbol in the text one espeak call consumed.

    Returns (symbol or "", clause ended in an ellipsis).
    """
    tail = consumed
    if not at_end and tail and not tail[-1].isspace() and tail[-1] not in _CLAUSE_PUNCTUATION:
        tail = tail[:-1]  # the one character espeak read ahead
    tail = tail.rstrip().rstrip(_CLOSERS).rstrip()
    run_start = len(tail)
    while run_start > 0 and (
        tail[run_start - 1] in _CLAUSE_PUNCTUATION or tail[run_start - 1] in "…"
    ):
        run_start -= 1
    run = tail[run_start:]
    if not run:
        return "", False
    if any(e in run for e in _ELLIPSES):
        return "", True
    return _CLAUSE_PUNCTUATION[run[0]], False


class Phonemizer:
    """espeak-ng phonemes for one espeak voice (e.g. ``"en-us"``).

    Thread-safe: every call takes the process-wide espeak lock.
    """

    def __init__(self, espeak_voice: str = "en-us") -> None:
        self.espeak_voice = espeak_voice

    def phonemize(self, text: str) -> Phonemes:
        cleaned, where = clean_text(text)
        if not cleaned.strip():
            return Phonemes(text, (), ())
        raw = espeak_clauses(cleaned, self.espeak_voice)
        word_starts = espeak_word_starts(cleaned, self.espeak_voice)
        return self._assemble(text, cleaned, where, raw, word_starts)

    def _assemble(
        self,
        text: str,
        cleaned: str,
        where: list[int],
        raw: list[RawClause],
        word_starts: list[int] | None,
    ) -> Phonemes:
        clauses = _spoken_clauses(cleaned, raw)
        n_spoken = sum(len(clause.ipa_words) for clause in clauses)
        if word_starts is not None and len(word_starts) == n_spoken:
            owners = _owners_from_positions(cleaned, word_starts)
        else:
            # Not seen on any text we tried; a guess that keeps words in order.
            _log.debug(
                "espeak gave %s word events for %d spoken words; aligning by count",
                None if word_starts is None else len(word_starts),
                n_spoken,
            )
            owners = [
                span
                for clause in clauses
                for span in _owners_by_count(
                    cleaned, clause.text_start, clause.text_end, len(clause.ipa_words)
                )
            ]

        symbols: list[str] = []
        words: list[WordSpan] = []
        spoken = 0
        for clause in clauses:
            if symbols and symbols[-1] != " ":
                symbols.append(" ")
            first = True
            for ipa_word in clause.ipa_words:
                owner = owners[spoken]
                spoken += 1
                if not ipa_word:
                    continue
                if not first:
                    symbols.append(" ")
                first = False
                start = len(symbols)
                symbols.extend(unicodedata.normalize("NFD", ipa_word))
                if owner is None:  # no written word at all: a point in the text
                    anchor = (
                        where[clause.text_start] if clause.text_start < len(where) else len(text)
                    )
                    span = (anchor, anchor)
                else:
                    span = (where[owner[0]], where[owner[1] - 1] + 1)
                _append_word(words, WordSpan(span[0], span[1], start, len(symbols)))
            if clause.punctuation:
                symbols.append(clause.punctuation)
        while symbols and symbols[-1] == " ":
            symbols.pop()
        return Phonemes(text, tuple(symbols), tuple(words))


@dataclass(frozen=True)
class _SpokenClause:
    """One espeak clause: its spoken words, punctuation and stretch of text."""

    ipa_words: list[str]
    punctuation: str
    text_start: int
    text_end: int


def _spoken_clauses(cleaned: str, raw: list[RawClause]) -> list[_SpokenClause]:
    data = cleaned.encode("utf-8")
    # byte offset -> char offset in `cleaned`
    char_at_byte = [0] * (len(data) + 1)
    offset = 0
    for char_index, char in enumerate(cleaned):
        width = len(char.encode("utf-8"))
        for k in range(width):
            char_at_byte[offset + k] = char_index
        offset += width
    char_at_byte[len(data)] = len(cleaned)

    clauses = []
    clause_text_start = 0
    for number, clause in enumerate(raw):
        consumed = data[clause.consumed_start_byte : clause.consumed_end_byte].decode(
            "utf-8", errors="replace"
        )
        punctuation, _ellipsis = _terminator(consumed, clause.at_end)
        clause_text_end = char_at_byte[clause.consumed_end_byte]
        if not clause.at_end and clause_text_end > clause_text_start:
            last = cleaned[clause_text_end - 1]
            if not last.isspace() and last not in _CLAUSE_PUNCTUATION:
                clause_text_end -= 1  # the read-ahead belongs to the next clause
        ipa = _LANGUAGE_FLAG.sub("", clause.phonemes).replace("\n", " ").strip()
        # An empty word (two spaces) is a word espeak gave an event but no
        # sound, like the hyphen of "I-95"; it keeps the count with the events.
        ipa_words = ipa.split(" ") if ipa else []
        _log.debug("clause %d: %r -> %r %r", number, consumed, ipa, punctuation)
        if ipa_words or punctuation:
            clauses.append(
                _SpokenClause(ipa_words, punctuation, clause_text_start, clause_text_end)
            )
        clause_text_start = clause_text_end
    return clauses


def _owners_from_positions(text: str, word_starts: list[int]) -> list[tuple[int, int] | None]:
    """The written words each spoken word stands for, from espeak's positions.

    A spoken word belongs to the written token its position falls in (a
    position on the space after a token, as espeak gives for the second
    word of an emoji's name, belongs to that token). Each spoken word then
    covers the tokens up to the next spoken word's: "of the" spoken as one
    word covers both; the five words of "$3.50" share its one token.
    """
    tokens = _tokens(text, 0, len(text))
    if not tokens:
        return [None] * len(word_starts)
    owner_token: list[int] = []
    k = 0
    for position in word_starts:
        # The last token whose raw chunk starts at or before the position.
        while k + 1 < len(tokens) and tokens[k + 1].chunk_start <= position:
            k += 1
        owner_token.append(max(k, owner_token[-1]) if owner_token else k)
    # Each distinct owner covers the tokens up to the next one; the first
    # also covers any token before it, the last any token after it.
    distinct = sorted(set(owner_token))
    cover_start = {t: (0 if i == 0 else t) for i, t in enumerate(distinct)}
    cover_stop = {
        t: (distinct[i + 1] if i + 1 < len(distinct) else len(tokens))
        for i, t in enumerate(distinct)
    }
    return [(tokens[cover_start[t]].start, tokens[cover_stop[t] - 1].end) for t in owner_token]


def _owners_by_count(
    text: str, start: int, end: int, n_spoken: int
) -> list[tuple[int, int] | None]:
    """Fallback when espeak's word events cannot be used: align by counting."""
    tokens = _tokens(text, start, end)
    if not tokens:
        return [None] * n_spoken
    owner = _align_words(n_spoken, tokens)
    return [(tokens[i].start, tokens[i].end) for i in owner]


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    plain: bool  # letters only: espeak speaks it as exactly one word
    chunk_start: int  # where its whitespace-delimited chunk starts (quotes included)


def _tokens(text: str, start: int, end: int) -> list[_Token]:
    """The written words in text[start:end], surrounding punctuation trimmed."""
    tokens = []
    for match in _TOKEN.finditer(text, start, end):
        a, b = match.start(), match.end()
        while a < b and text[a] in _TOKEN_EDGES:
            a += 1
        while b > a and text[b - 1] in _TOKEN_EDGES:
            b -= 1
        if a < b:
            plain = _PLAIN_WORD.fullmatch(text, a, b) is not None
            tokens.append(_Token(a, b, plain, match.start()))
    return tokens


def _align_words(n_spoken: int, tokens: list[_Token]) -> list[int]:
    """For each spoken (IPA) word, the index of the written token it reads.

    A plain word is spoken as one word; numbers, symbols and emoji may be
    spoken as several ("$3.50" is five), so the surplus goes to them, in
    proportion to their length. When that cannot explain the counts, fall
    back to a monotone proportional map.
    """
    surplus = n_spoken - len(tokens)
    if not tokens or surplus == 0:
        return list(range(n_spoken)) if tokens else [0] * n_spoken
    flexible = [i for i, token in enumerate(tokens) if not token.plain]
    if surplus < 0 or not flexible:
        return [i * len(tokens) // n_spoken for i in range(n_spoken)]
    lengths = [tokens[i].end - tokens[i].start for i in flexible]
    total = sum(lengths)
    shares = [surplus * length // total for length in lengths]
    by_remainder = sorted(range(len(flexible)), key=lambda k: -(surplus * lengths[k] % total))
    for k in by_remainder[: surplus - sum(shares)]:
        shares[k] += 1
    counts = [1] * len(tokens)
    for k, i in enumerate(flexible):
        counts[i] += shares[k]
    return [i for i, count in enumerate(counts) for _ in range(count)]


def _append_word(words: list[WordSpan], word: WordSpan) -> None:
    """Add a word, merging it with the previous one if it is the same text."""
    if words and (words[-1].text_start, words[-1].text_end) == (word.text_start, word.text_end):
        previous = words[-1]
        words[-1] = WordSpan(
            previous.text_start, previous.text_end, previous.symbol_start, word.symbol_end
        )
    else:
        words.append(word)
