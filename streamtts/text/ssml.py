"""An SSML subset, read as it streams in (sans-IO).

:class:`SsmlReader` turns SSML pieces into the text to say (which then goes
through the same written-form normalization as plain text), an offset map
back into the SSML, and the ``<mark>`` names with where they fall. Each
decision waits only for the tag or entity it is in, so any split of the
same SSML reads the same.

Supported: ``speak``, ``p``, ``s``, ``break`` (``strength`` and ``time``:
a short one is a comma's pause, a long one ends the segment), ``mark``,
``say-as`` (``characters``/``spell-out``, ``digits``, ``cardinal``,
``ordinal``, ``telephone``), ``sub alias``, ``prosody`` (``rate``,
``volume`` and ``pitch``: a label, a relative percentage or semitones;
hertz are not supported), ``emphasis`` (a little slower and
louder), ``phoneme alphabet="ipa"`` (its IPA goes to the voice, not
espeak-ng), entities and CDATA. Each prosody, emphasis or phoneme stretch
is its own segment. Any other tag is read for its text, with one warning.
Malformed SSML (a tag that never closes) is read as plain text with a
warning, or raises :class:`~streamtts.errors.InputTextError` when
``strict``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from ..errors import InputTextError
from .offsets import OffsetMap

__all__ = ["Prosody", "SsmlReader"]

_log = logging.getLogger(__name__)

_MAX_TAG_CHARS = 4096  # a "tag" longer than this is not one
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)')""")
_TAG = re.compile(r"^<\s*(/?)\s*([\w:-]+)(.*?)(/?)\s*>$", re.DOTALL)
_BREAK_STRENGTH = {"none": "", "x-weak": "", "weak": ",", "medium": ",", "strong": ".\n\n"}
_SILENT_READ = frozenset({"voice", "lang", "audio", "w"})
_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
_VOLUMES = {"silent": 0.0, "x-soft": 0.3, "soft": 0.6, "medium": 1.0, "default": 1.0,
            "loud": 1.4, "x-loud": 1.8}  # fmt: skip
# Pitch factors kept within an octave: beyond, the voice is no longer itself
# (voices/pitch.py).
MIN_PITCH, MAX_PITCH = 0.5, 2.0
_PITCHES = {"x-low": 0.8, "low": 0.9, "medium": 1.0, "default": 1.0, "high": 1.12,
            "x-high": 1.25}  # fmt: skip
# emphasis: a little slower and louder (reduced: the other way)
_EMPHASIS = {"strong": (0.88, 1.3), "moderate": (0.94, 1.15), "none": (1.0, 1.0),
             "reduced": (1.06, 0.85)}  # fmt: skip


@dataclass(frozen=True)
class Prosody:
    """How a stretch is spoken: rate, volume and pitch factors; IPA replaces espeak-ng."""

    rate: float = 1.0
    volume: float = 1.0
    ipa: str | None = None
    pitch: float = 1.0


def _pitch(value: str) -> float | None:
    """An SSML pitch as a factor: "high", "+20%", "90%", "-2st"; None for
    what cannot be done here (hertz: the voice's own pitch is not known)."""
    value = value.strip().lower()
    if value in _PITCHES:
        return _PITCHES[value]
    semitones = re.fullmatch(r"([+-]?[\d.]+)\s*st", value)
    if semitones is not None:
        try:
            return float(2 ** (float(semitones.group(1)) / 12))
        except ValueError:
            return None
    if value.endswith("%"):
        return _factor(value, {}, False)
    return None


def _factor(value: str, names: dict[str, float], decibels: bool) -> float | None:
    value = value.strip().lower()
    if value in names:
        return names[value]
    match = re.fullmatch(r"([+-]?[\d.]+)\s*(%|db)?", value)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        return max(0.0, 1.0 + number / 100 if value[0] in "+-" else number / 100)
    if unit == "db" and decibels:
        return float(10 ** (number / 20))
    return number if number > 0 else None


_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


@dataclass
class _Collect:
    """Text inside a say-as or sub, gathered until its end tag."""

    tag: str
    attributes: dict[str, str]
    start: int
    text: list[str] = field(default_factory=list)


def _time_ms(value: str) -> float | None:
    match = re.fullmatch(r"\s*([\d.]+)\s*(ms|s)\s*", value)
    if match is None:
        return None
    number = float(match.group(1))
    return number if match.group(2) == "ms" else number * 1000


def _say_as(kind: str, text: str) -> str:
    text = text.strip()
    if kind in ("characters", "spell-out", "letters"):
        return " ".join("space" if c == " " else c for c in text)
    if kind == "digits":
        return " ".join(c for c in text if not c.isspace())
    if kind == "ordinal" and text.isdigit():
        number = int(text)
        suffix = "th" if 10 <= number % 100 <= 20 else _ORDINAL_SUFFIX.get(number % 10, "th")
        return f"{number}{suffix}"
    if kind == "telephone":
        groups = re.findall(r"\d+", text)
        return ", ".join(" ".join(group) for group in groups)
    return text  # cardinal and anything else: as written


class SsmlReader:
    """SSML in, text to say out (see the module docstring)."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.offsets = OffsetMap()
        self.marks: list[tuple[int, str]] = []  # (offset in the text out, name)
        # Where the way of speaking changes: (offset in the text out, Prosody).
        self.prosody: list[tuple[int, Prosody]] = []
        self._prosody_stack: list[Prosody] = [Prosody()]
        self.warnings: list[str] = []
        self._buffer = ""
        self._base = 0
        self._out: list[str] = []
        self._collect: _Collect | None = None
        self._warned: set[str] = set()

    def feed(self, data: str) -> str:
        self._buffer += data
        self._scan(final=False)
        return self._take()

    def flush(self) -> str:
        self._scan(final=True)
        if self._collect is not None:
            self._end_collect()
        return self._take()

    # -- output --------------------------------------------------------------------

    def _emit(self, text: str, start: int, end: int, copied: bool) -> None:
        if not text:
            return
        if self._collect is not None:
            self._collect.text.append(text)
            return
        self._out.append(text)
        self.offsets.add(len(text), start, end, copied)

    def _take(self) -> str:
        out = "".join(self._out)
        self._out.clear()
        return out

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)
            _log.warning("ssml: %s", message)

    def _consume(self, count: int) -> None:
        self._buffer = self._buffer[count:]
        self._base += count

    # -- the scanner -------------------------------------------------------------------

    def _scan(self, final: bool) -> None:
        while self._buffer:
            if self._buffer.startswith("<"):
                if not self._markup(final):
                    return
                continue
            if self._buffer.startswith("&"):
                end = self._buffer.find(";", 1, 12)
                if end < 0 and len(self._buffer) < 12 and not final:
                    return
                if end > 0 and (text := self._entity(self._buffer[1:end])) is not None:
                    self._emit(text, self._base, self._base + end + 1, False)
                    self._consume(end + 1)
                    continue
                self._emit("&", self._base, self._base + 1, True)  # a bare ampersand
                self._consume(1)
                continue
            stop = min((i for i in (self._buffer.find("<"), self._buffer.find("&")) if i >= 0),
                       default=len(self._buffer))  # fmt: skip
            self._emit(self._buffer[:stop], self._base, self._base + stop, True)
            self._consume(stop)

    @staticmethod
    def _entity(name: str) -> str | None:
        if name.startswith("#x"):
            try:
                return chr(int(name[2:], 16))
            except (ValueError, OverflowError):
                return None
        if name.startswith("#"):
            try:
                return chr(int(name[1:]))
            except (ValueError, OverflowError):
                return None
        return _ENTITIES.get(name)

    def _markup(self, final: bool) -> bool:
        """A tag, comment or CDATA at the front of the buffer; False: need more."""
        for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")):
            if self._buffer.startswith(opener) or opener.startswith(self._buffer):
                end = self._buffer.find(closer, len(opener))
                if end < 0:
                    if final or len(self._buffer) > _MAX_TAG_CHARS:
                        return self._malformed(f"unterminated {opener}")
                    return False
                if opener == "<![CDATA[":
                    start = self._base + len(opener)
                    self._emit(
                        self._buffer[len(opener) : end], start, start + end - len(opener), True
                    )
                self._consume(end + len(closer))
                return True
        end = self._buffer.find(">")
        if end < 0:
            if final or len(self._buffer) > _MAX_TAG_CHARS:
                return self._malformed("a tag that never closes")
            return False
        raw = self._buffer[: end + 1]
        match = _TAG.match(raw)
        if match is None:
            return self._malformed(f"not a tag: {raw[:40]!r}")
        start = self._base
        self._consume(end + 1)
        closing, name, rest, self_closing = match.groups()
        attributes = {m.group(1): m.group(3) or m.group(4) or "" for m in _ATTRIBUTE.finditer(rest)}
        self._tag(name.lower(), bool(closing), bool(self_closing), attributes, start)
        return True

    def _malformed(self, what: str) -> bool:
        if self.strict:
            raise InputTextError(f"malformed SSML: {what}; fix the markup or use the plain format")
        self._warn("malformed", f"malformed SSML ({what}); the rest is read as plain text")
        self._emit(self._buffer, self._base, self._base + len(self._buffer), True)
        self._consume(len(self._buffer))
        return True

    def _tag(
        self, name: str, closing: bool, self_closing: bool, attributes: dict[str, str], start: int
    ) -> None:
        if self._collect is not None:
            if closing and name == self._collect.tag:
                self._end_collect()
            return  # tags inside say-as or sub: their text only
        if name in ("speak", "p"):
            self._emit("\n\n", start, start, False)
        elif name == "s":
            if closing:
                self._emit("\n\n", start, start, False)
        elif name == "break":
            strength = attributes.get("strength", "medium")
            pause = _BREAK_STRENGTH.get(strength, ",")
            if (ms := _time_ms(attributes.get("time", ""))) is not None:
                pause = "" if ms < 100 else "," if ms < 400 else ".\n\n"
            self._emit(f"{pause} " if pause == "," else pause or " ", start, start, False)
        elif name == "mark":
            if "name" in attributes:
                self.marks.append((self.offsets.length, attributes["name"]))
        elif name in ("say-as", "sub"):
            if not closing and not self_closing:
                self._collect = _Collect(name, attributes, start)
            elif self_closing and name == "sub" and "alias" in attributes:
                self._emit(attributes["alias"], start, start, False)
        elif name in ("prosody", "emphasis", "phoneme"):
            self._prosody_tag(name, closing, self_closing, attributes, start)
        elif name in _SILENT_READ:
            if not closing:
                self._warn(name, f"<{name}> is read for its text; its effect is not applied yet")
        else:
            self._warn(name, f"unknown SSML tag <{name}>: its text is read")

    def _prosody_tag(
        self, name: str, closing: bool, self_closing: bool, attributes: dict[str, str], start: int
    ) -> None:
        """A change of rate, volume or phonemes: its own segment, so the
        voice can speak it with other settings."""
        if self_closing:
            return
        stack = self._prosody_stack
        if closing:
            if len(stack) > 1:
                stack.pop()
        else:
            current = stack[-1]
            rate, volume, ipa, pitch = current.rate, current.volume, current.ipa, current.pitch
            if name == "prosody":
                rate *= _factor(attributes.get("rate", "1"), _RATES, False) or 1.0
                given = _factor(attributes.get("volume", "1"), _VOLUMES, True)
                volume *= 1.0 if given is None else given
                if "pitch" in attributes:
                    factor = _pitch(attributes["pitch"])
                    if factor is None or factor <= 0.0:
                        self._warn(
                            "pitch", f"prosody pitch={attributes['pitch']!r} is not supported: "
                            'use a label ("high"), a percentage ("+10%") or semitones ("-2st")',
                        )  # fmt: skip
                    else:
                        pitch *= factor
            elif name == "emphasis":
                r, v = _EMPHASIS.get(attributes.get("level", "moderate"), _EMPHASIS["moderate"])
                rate, volume = rate * r, volume * v
            elif attributes.get("alphabet", "ipa") == "ipa" and attributes.get("ph"):
                ipa = attributes["ph"]
            else:
                self._warn("alphabet", 'phoneme needs alphabet="ipa" and ph; its text is read')
            stack.append(
                Prosody(
                    max(0.1, min(10.0, rate)),
                    max(0.0, min(4.0, volume)),
                    ipa,
                    max(MIN_PITCH, min(MAX_PITCH, pitch)),
                )
            )
        self._emit("\n\n", start, start, False)
        self.prosody.append((self.offsets.length, stack[-1]))

    def _end_collect(self) -> None:
        collect, self._collect = self._collect, None
        assert collect is not None
        text = "".join(collect.text)
        if collect.tag == "sub":
            spoken = collect.attributes.get("alias", text)
        else:
            spoken = _say_as(collect.attributes.get("interpret-as", ""), text)
        self._emit(f" {spoken} ", collect.start, self._base, False)
