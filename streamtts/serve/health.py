"""What ``/healthz`` reports: the server's state and what a leak would grow."""

from __future__ import annotations

import os
import threading
from typing import Any

import trio

from .session import ServerState

__all__ = ["health"]


def health(state: ServerState) -> dict[str, Any]:
    """Sessions, capacity and model calls; threads, trio tasks and resident memory."""
    return {
        "status": "draining" if state.draining else "ok",
        "voice": state.voice.name,
        "active": state.admission.active,
        "capacity": state.admission.capacity,
        "starting": state.admission.starting,
        "connections": state.sessions,
        "model_calls": state.scheduler.granted,
        "threads": threading.active_count(),
        "tasks": _trio_tasks(),
        "rss_mb": round(_rss_bytes() / 2**20, 1),
    }


def _trio_tasks() -> int:
    tasks = 0
    root = trio.lowlevel.current_root_task()
    pending = [] if root is None else [root]
    while pending:
        task = pending.pop()
        tasks += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return tasks


def _rss_bytes() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak instead of the current size
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
