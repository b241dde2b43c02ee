"""Whether a replica's engine can serve, for Ray's health check.

Ray calls the replica's ``check_health`` every ``health_check_period_s``;
a raise (or no answer within ``health_check_timeout_s``) three times in a
row marks the replica unhealthy, and Ray replaces it. A replica whose voice
does not load never starts (its constructor raises), so Ray retries it and
reports the deployment unhealthy.

:class:`EngineHealth` decides from what the replica observes (sans-IO: the
caller passes the time and the counts):

- the trio run hosting the engine has ended;
- a model call has held a slot for ``stuck_s`` with no other call granted
  (a call takes tens of milliseconds: a thread is stuck, so every session
  on the replica would wait behind it);
- ``fault_run`` utterances in a row failed inside the engine (not a
  client's doing: a client that left, text that cannot be spoken) with
  none finishing between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CLIENT_FAILURES", "EngineHealth", "Unhealthy"]

# What an utterance may end in without the engine being at fault.
CLIENT_FAILURES = frozenset({"ClientGone", "InputTextError", "Refusal", "Cancelled"})


class Unhealthy(RuntimeError):
    """The replica's engine cannot serve; Ray should replace the replica."""


@dataclass
class EngineHealth:
    stuck_s: float = 30.0
    fault_run: int = 3
    faults_in_a_row: int = 0
    _granted: int = field(default=-1, repr=False)
    _granted_at: float = field(default=0.0, repr=False)

    def utterance_failed(self, kind: str) -> None:
        if kind not in CLIENT_FAILURES:
            self.faults_in_a_row += 1

    def utterance_finished(self) -> None:
        self.faults_in_a_row = 0

    def check(self, now: float, *, running: bool, busy: int, granted: int) -> None:
        """Raise :class:`Unhealthy` saying why, or return."""
        if not running:
            raise Unhealthy("the replica's trio run has ended")
        if granted != self._granted or busy == 0:
            self._granted, self._granted_at = granted, now
        elif now - self._granted_at >= self.stuck_s:
            raise Unhealthy(
                f"a model call has run for {now - self._granted_at:.0f} s with no other "
                "granted: the engine is stuck"
            )
        if self.faults_in_a_row >= self.fault_run:
            raise Unhealthy(f"the last {self.faults_in_a_row} utterances failed inside the engine")
