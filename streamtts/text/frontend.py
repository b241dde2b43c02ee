"""The text front end: what the caller wrote → what a listener should hear (sans-IO).

It sits between the caller and the segmenter and streams like the rest of
the graph: ``feed`` any pieces (an LLM's tokens split a ``**`` or a URL
anywhere), get back the text that is now certain; the result is the same
for any split of the same text, because every decision waits for the whole
token (or, for markdown's block structure, the whole line start) it
depends on. An offset map keeps, for every character given to the
segmenter, where it came from in the caller's text, so word and segment
events point at the caller's characters.

:class:`FrontEnd` is the one for a :class:`TextOptions`:

- ``plain`` and ``markdown``: :class:`~streamtts.text.plain.PlainFrontEnd`
  (tokens and reading modes in ``tokens.py``, the markdown scanner in
  ``markdown.py``);
- ``ssml``: :class:`~streamtts.text.ssml_frontend.SsmlFrontEnd`, the SSML
  reader composed with a plain front end.

``text/pipeline.py`` puts a front end and the segmenter together.
"""

from __future__ import annotations

from .offsets import OffsetMap, Offsets
from .options import TextOptions
from .plain import PlainFrontEnd
from .segment import Segment
from .ssml import Prosody
from .ssml_frontend import SsmlFrontEnd
from .tokens import TONE

__all__ = ["TONE", "FrontEnd", "OffsetMap", "Offsets", "TextOptions"]


class FrontEnd:
    """One utterance's front end, the right one for ``options`` (see the
    module docstring). Not thread-safe; one per utterance."""

    def __init__(self, options: TextOptions | None = None) -> None:
        self.options = options or TextOptions()
        self._frontend: PlainFrontEnd | SsmlFrontEnd
        # SSML marks: (offset in the text handed on, name), in order; and
        # SSML prosody: (offset, how it is said from there). Both grow as
        # text comes; other formats have none.
        self.marks: list[tuple[int, str]] = []
        self.prosody: list[tuple[int, Prosody]] = []
        if self.options.format == "ssml":
            self._frontend = SsmlFrontEnd(self.options)
            self.marks, self.prosody = self._frontend.marks, self._frontend.prosody
        else:
            self._frontend = PlainFrontEnd(self.options)
        # The text handed on → the caller's text.
        self.offsets: Offsets = self._frontend.offsets
        # Where a tone stands for a capital letter: offsets of TONE characters.
        self.tones: list[int] = self._frontend.tones

    def feed(self, text: str) -> str:
        """The text that is now certain, given ``text`` after what came before."""
        return self._frontend.feed(text)

    def flush(self) -> str:
        """The text has ended: the rest of it."""
        return self._frontend.flush()

    def annotate(self, segment: Segment) -> Segment:
        """``segment`` as it is to be said: the SSML prosody in force where
        it starts, or a tone (capital letters signalled)."""
        return self._frontend.annotate(segment)
