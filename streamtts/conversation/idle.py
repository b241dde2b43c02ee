"""When a connection has been idle too long (sans-IO): it said nothing for
``idle_s`` while none of its own speech was playing. A client waiting
quietly for its audio is not idle; the wait starts again when the audio
ends. The door's loop asks :meth:`IdleWatch.wait_s` how long to wait for
the next bytes, and :meth:`IdleWatch.expired` when that wait runs out."""

from __future__ import annotations

__all__ = ["IdleWatch"]

# How often a door looks again while its client waits for audio: the idle
# time starts counting at most this late after the audio ends.
_LOOK_AGAIN_S = 1.0


class IdleWatch:
    def __init__(self, idle_s: float, now: float) -> None:
        self.idle_s = idle_s
        self._since = now

    def heard(self, now: float) -> None:
        """The client said something."""
        self._since = now

    def wait_s(self, now: float) -> float:
        """How long to wait for the client before looking again."""
        return max(0.0, min(_LOOK_AGAIN_S, self._since + self.idle_s - now))

    def expired(self, now: float, busy: bool) -> bool:
        """Whether to close now; ``busy``: its own speech is still playing."""
        if busy:
            self._since = now
            return False
        return now - self._since >= self.idle_s
