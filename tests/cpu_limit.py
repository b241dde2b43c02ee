"""A watch-class CPU for a child process: one core, a share of it.

Linux cgroups do it: the child is moved into a ``cpuset`` group holding
one core and a ``cpu`` group whose quota is a share of each period
(cgroup v1: ``cpu.cfs_quota_us`` of ``cpu.cfs_period_us``; v2: ``cpu.max``).
Needs root (the tests' sound server does too); :func:`available` says
whether this machine allows it. The sound server stays outside: on a
phone the audio server runs at its own priority too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["available", "limited", "version"]

_ROOT = Path("/sys/fs/cgroup")


def version() -> int | None:
    """1 or 2, the cgroup version this machine mounts; None if neither is usable."""
    if (_ROOT / "cpu" / "cpu.cfs_quota_us").exists() and (_ROOT / "cpuset").is_dir():
        return 1
    if (_ROOT / "cgroup.controllers").exists():
        return 2
    return None


def available() -> bool:
    return version() is not None and os.geteuid() == 0


@contextlib.contextmanager
def limited(share: float, core: int = 0) -> Iterator[list[str]]:
    """A command prefix that runs its command on ``core`` with ``share`` of it
    (0.5: half of one core), in cgroups made for it and removed after."""
    name = f"streamtts-watch-{os.getpid()}"
    quota = int(share * 100_000)
    made: list[Path] = []
    try:
        if version() == 1:
            cpu, cpuset = _ROOT / "cpu" / name, _ROOT / "cpuset" / name
            for group in (cpu, cpuset):
                group.mkdir()
                made.append(group)
            (cpu / "cpu.cfs_period_us").write_text("100000")
            (cpu / "cpu.cfs_quota_us").write_text(str(quota))
            (cpuset / "cpuset.cpus").write_text(str(core))
            (cpuset / "cpuset.mems").write_text((_ROOT / "cpuset" / "cpuset.mems").read_text())
            procs = [cpu / "cgroup.procs", cpuset / "cgroup.procs"]
        else:
            group = _ROOT / name
            group.mkdir()
            made.append(group)
            (group / "cpu.max").write_text(f"{quota} 100000")
            (group / "cpuset.cpus").write_text(str(core))
            procs = [group / "cgroup.procs"]
        # The shell moves itself into the groups, then becomes the command.
        moves = "; ".join(f"echo $$ > {path}" for path in procs)
        yield [shutil.which("sh") or "/bin/sh", "-c", f'{moves}; exec "$@"', "sh"]
    finally:
        for group in reversed(made):
            with contextlib.suppress(OSError):
                group.rmdir()
