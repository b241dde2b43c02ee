"""The ring stage's kernels compiled ahead of time, once per machine.

    python -m streamtts.dsp.build_kernels        # scripts/install runs it

numba compiles ``_kernel_source.py``'s functions for their one signature
into a small extension module (``numba.pycc``), kept beside the voice's
cut in the cache (``STREAMTTS_CACHE_DIR``, else ``~/.cache/streamtts``),
under a name that says which Python, numba, machine and kernel source it
was made from: a change of any of them makes a new build, never a stale
one. Loading it takes half a millisecond and brings neither numba nor LLVM
into the process (about 150 MB of memory and half a second of a cold
start, measured: ``benchmarks/device.py``). Without a C compiler or where
it fails, the engine compiles the kernels just in time as before.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["build", "build_dir", "built_module_path"]

_NAME = "_streamtts_kernels"


def _cache_root() -> Path:
    named = os.environ.get("STREAMTTS_CACHE_DIR")
    return Path(named) if named else Path.home() / ".cache" / "streamtts"


def _tag() -> str:
    """What a build is only good for: this Python, numba, machine, source."""
    source = (Path(__file__).with_name("_kernel_source.py")).read_bytes()
    try:
        numba_version = version("numba")
    except PackageNotFoundError:  # pragma: no cover - numba is a dependency
        numba_version = "none"
    identity = f"{sys.implementation.cache_tag}-{numba_version}-{platform.machine()}"
    digest = hashlib.sha256(source + identity.encode()).hexdigest()[:16]
    return f"{identity}-{digest}"


def build_dir() -> Path:
    return _cache_root() / "kernels" / _tag()


def built_module_path() -> Path | None:
    """The build for this machine, if there is one."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    path = build_dir() / f"{_NAME}{suffix}"
    return path if path.is_file() else None


def build(output_dir: Path | None = None) -> Path:
    """Compile the kernels ahead of time into ``output_dir`` (default: the
    cache); returns the extension's path. Raises if numba cannot."""
    from numba.pycc import CC

    from . import _kernel_source as source

    target = output_dir or build_dir()
    target.mkdir(parents=True, exist_ok=True)
    compiler = CC(_NAME)
    compiler.output_dir = str(target)
    compiler.verbose = False
    for name, (function, signature) in source.KERNELS.items():
        compiler.export(name, signature)(function)
    compiler.compile()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return target / f"{_NAME}{suffix}"
