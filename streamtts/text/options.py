"""How a text is read: its format and the reading modes, one frozen object."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .reading import PUNCTUATION_LEVELS

__all__ = ["TEXT_FORMATS", "TextOptions"]

TEXT_FORMATS = ("plain", "markdown", "ssml")
_BLOCK_CHOICES = ("summarize", "read", "skip")


@dataclass(frozen=True)
class TextOptions:
    """How text is read. ``format`` ``plain``, ``markdown`` or ``ssml``;
    markdown's ``code_blocks`` and ``tables``: ``summarize`` (the default:
    a listener wants to know one is there, not hear every brace), ``read``
    or ``skip``; ``emoji`` in markdown: ``drop`` (LLM decoration) or
    ``name`` (as espeak-ng names them, which plain text always does)."""

    format: str = "plain"
    code_blocks: str = "summarize"
    tables: str = "summarize"
    emoji: str = "drop"
    normalize: bool = True
    strict_ssml: bool = False  # malformed SSML raises instead of being read as text
    # Reading modes, as a screen reader sets them per utterance:
    punctuation: str = "none"  # none, some, most, all: which symbols are said by name
    capitals: str = "none"  # none, "cap" said or a "tone" before a word with a capital
    spell: bool = False  # every character by name

    def __post_init__(self) -> None:
        if self.format not in TEXT_FORMATS:
            raise ConfigError(
                f"text format must be one of {', '.join(TEXT_FORMATS)}, got {self.format!r}"
            )
        for name in ("code_blocks", "tables"):
            if getattr(self, name) not in _BLOCK_CHOICES:
                raise ConfigError(f"{name} must be summarize, read or skip")
        if self.emoji not in ("drop", "name"):
            raise ConfigError("emoji must be drop or name")
        if self.punctuation not in PUNCTUATION_LEVELS:
            raise ConfigError("punctuation must be none, some, most or all")
        if self.capitals not in ("none", "cap", "tone"):
            raise ConfigError("capitals must be none, cap or tone")
