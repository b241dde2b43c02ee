"""What a screen reader asks of a synthesizer (sans-IO): punctuation spoken
at a chosen level, capitals signalled, text spelled, single characters and
key names said the way its users expect.

Names follow what screen readers on Linux say (speech-dispatcher's
``some``/``most``/``all`` punctuation levels): at ``some`` the symbols that
carry meaning in prose (``@ # $ % & * + = / \\ | < > ^ _ ~ `` and brackets),
at ``most`` also quotes, dashes, colons and semicolons, at ``all`` every
punctuation mark including the sentence's own.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "CHARACTER_NAMES",
    "KEY_NAMES",
    "PUNCTUATION_LEVELS",
    "name_punctuation",
    "say_character",
    "say_key",
    "signal_capitals",
    "spell",
]

CHARACTER_NAMES = {
    " ": "space",
    "\t": "tab",
    "\n": "new line",
    ".": "dot",
    ",": "comma",
    ";": "semicolon",
    ":": "colon",
    "!": "exclamation mark",
    "?": "question mark",
    "'": "apostrophe",
    '"': "quote",
    "`": "backtick",
    "-": "dash",
    "_": "underscore",
    "(": "left paren",
    ")": "right paren",
    "[": "left bracket",
    "]": "right bracket",
    "{": "left brace",
    "}": "right brace",
    "<": "less than",
    ">": "greater than",
    "@": "at",
    "#": "hash",
    "$": "dollar",
    "%": "percent",
    "^": "caret",
    "&": "and",
    "*": "star",
    "+": "plus",
    "=": "equals",
    "/": "slash",
    "\\": "backslash",
    "|": "bar",
    "~": "tilde",
    "€": "euro",
    "£": "pound",
    "…": "ellipsis",
    "–": "dash",
    "—": "dash",
    "“": "quote",
    "”": "quote",
    "‘": "apostrophe",
    "’": "apostrophe",
}
_SOME = set("@#$%&*+=/\\|<>^_~`[]{}()€£")
_MOST = _SOME | set("\"'“”‘’-–—:;")
_ALL = _MOST | set(".,!?…")
PUNCTUATION_LEVELS = {"none": frozenset(), "some": frozenset(_SOME), "most": frozenset(_MOST),
                      "all": frozenset(_ALL)}  # fmt: skip

KEY_NAMES = {
    "ctrl": "control",
    "control": "control",
    "alt": "alt",
    "shift": "shift",
    "super": "super",
    "meta": "meta",
    "esc": "escape",
    "escape": "escape",
    "enter": "enter",
    "return": "return",
    "tab": "tab",
    "space": "space",
    "backspace": "backspace",
    "delete": "delete",
    "del": "delete",
    "insert": "insert",
    "home": "home",
    "end": "end",
    "pageup": "page up",
    "page_up": "page up",
    "pagedown": "page down",
    "page_down": "page down",
    "up": "up",
    "down": "down",
    "left": "left",
    "right": "right",
    "capslock": "caps lock",
    "caps_lock": "caps lock",
    "underscore": "underscore",
    "double-quote": "quote",
    "kp-enter": "keypad enter",
}


def say_character(char: str) -> str:
    """One character as a screen reader says it: "a", "cap B", "dollar"."""
    if not char:
        return ""
    if char in CHARACTER_NAMES:
        return CHARACTER_NAMES[char]
    if char.isalpha() and char.isupper():
        return f"cap {char}"
    if char.isalnum():
        return char
    name = unicodedata.name(char, "")
    return name.lower() if name else f"character {ord(char):x}"


def spell(text: str) -> str:
    """Every character by name, spaces and symbols included, quickly."""
    return " ".join(say_character(c) for c in text)


def say_key(key: str) -> str:
    """A key or key combination by name: "ctrl+c" → "control c"."""
    parts = [p for p in key.replace("-", "+").split("+") if p] if len(key) > 1 else [key]
    spoken = []
    for part in parts:
        lower = part.lower()
        if lower in KEY_NAMES:
            spoken.append(KEY_NAMES[lower])
        elif len(part) == 1:
            spoken.append(say_character(part))
        elif lower.startswith("f") and lower[1:].isdigit():
            spoken.append(f"F {lower[1:]}")
        else:
            spoken.append(part.replace("_", " "))
    return " ".join(spoken)


def name_punctuation(text: str, level: str) -> str:
    """``text`` with the symbols of ``level`` spoken by name."""
    named = PUNCTUATION_LEVELS[level]
    if not named:
        return text
    out = []
    for char in text:
        if char in named:
            # Clause punctuation stays too, so the pause (and the segment's
            # end) is where it was: "Hello dot. World".
            keep = char if char in ".,!?;:" else ""
            out.append(f" {CHARACTER_NAMES.get(char, char)}{keep} ")
        else:
            out.append(char)
    return "".join(out)


def signal_capitals(text: str) -> str:
    """ "cap" before each word that starts with a capital letter."""
    words = text.split(" ")
    return " ".join(f"cap {w}" if w[:1].isupper() else w for w in words)
