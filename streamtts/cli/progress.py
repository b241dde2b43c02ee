"""A one-line progress bar on standard error, for rendering a file."""

from __future__ import annotations

import sys
import time

_WIDTH = 30  # characters of bar
_EVERY_S = 0.1  # redraw at most this often: a terminal is slow to write to


class Progress:
    """How much of the text has been spoken, and how much audio it made."""

    def __init__(self, total_chars: int | None, enabled: bool) -> None:
        self.total = total_chars
        self.enabled = enabled and bool(total_chars)
        self._last = 0.0

    def update(self, done_chars: int, audio_s: float, force: bool = False) -> None:
        if not self.enabled or self.total is None:
            return
        now = time.monotonic()
        if not force and now - self._last < _EVERY_S:
            return
        self._last = now
        fraction = min(1.0, done_chars / self.total)
        filled = int(fraction * _WIDTH)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        sys.stderr.write(f"\r[{bar}] {fraction:4.0%}  {audio_s:7.1f} s of audio")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
