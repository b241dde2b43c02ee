"""The SSML front end (sans-IO): SSML → its text content
(:class:`~streamtts.text.ssml.SsmlReader`) → the plain front end, with
each ``<mark>`` and each change of prosody placed between the words it
stands between.

It drives the plain front end through its public methods only: text
content up to a mark or a change is fed, :meth:`PlainFrontEnd.boundary`
says the word before it, and the mark is placed where the plain front
end's output then ends.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from .offsets import ComposedOffsets
from .options import TextOptions
from .plain import PlainFrontEnd
from .segment import Segment
from .ssml import Prosody, SsmlReader

__all__ = ["SsmlFrontEnd"]


class SsmlFrontEnd:
    """One utterance's SSML front end (see the module docstring). Not
    thread-safe; one per utterance."""

    def __init__(self, options: TextOptions | None = None) -> None:
        self.options = options or TextOptions(format="ssml")
        self._ssml = SsmlReader(self.options.strict_ssml)
        self._plain = PlainFrontEnd(replace(self.options, format="plain"))
        self.offsets = ComposedOffsets(self._plain.offsets, self._ssml.offsets)
        # SSML marks: (offset in the text handed on, name), in order.
        self.marks: list[tuple[int, str]] = []
        # SSML prosody: (offset in the text handed on, how it is said from there).
        self.prosody: list[tuple[int, Prosody]] = []
        self._marks_seen = 0
        self._prosody_seen = 0

    @property
    def tones(self) -> list[int]:
        """Where a tone stands for a capital letter (offsets in the text handed on)."""
        return self._plain.tones

    def feed(self, text: str) -> str:
        """The text that is now certain, given ``text`` after what came before."""
        return self._through_plain(self._ssml.feed(text), final=False)

    def flush(self) -> str:
        """The SSML has ended: the rest of it."""
        return self._through_plain(self._ssml.flush(), final=True)

    def annotate(self, segment: Segment) -> Segment:
        """``segment`` with the prosody in force where it starts (or made a tone)."""
        segment = self._plain.annotate(segment)
        if segment.tone or not self.prosody:
            return segment
        # Its first character said: a segment may begin with the breaks before it.
        first = segment.start + len(segment.text) - len(segment.text.lstrip())
        k = bisect.bisect_right([at for at, _ in self.prosody], first) - 1
        if k < 0:
            return segment
        prosody = self.prosody[k][1]
        return replace(
            segment, rate=prosody.rate, volume=prosody.volume, pitch=prosody.pitch, ipa=prosody.ipa
        )

    def _through_plain(self, content: str, final: bool) -> str:
        """SSML's text content through the plain front end, with each mark
        and each change of prosody placed between the words it stands between."""
        ssml, plain = self._ssml, self._plain
        changes: list[tuple[int, str | Prosody]] = [
            *ssml.marks[self._marks_seen :],
            *ssml.prosody[self._prosody_seen :],
        ]
        self._marks_seen, self._prosody_seen = len(ssml.marks), len(ssml.prosody)
        changes.sort(key=lambda change: change[0])  # stable: marks first at a tie
        out = []
        for offset, change in changes:
            take = max(0, offset - plain.fed_chars)
            out.append(plain.feed(content[:take]))
            content = content[take:]
            out.append(plain.boundary())
            if isinstance(change, str):
                self.marks.append((plain.output_chars, change))
            else:
                self.prosody.append((plain.output_chars, change))
        out.append(plain.feed(content))
        if final:
            out.append(plain.flush())
        return "".join(out)
