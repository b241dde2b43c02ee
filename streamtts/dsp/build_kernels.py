"""``python -m streamtts.dsp.build_kernels``: compile the ring stage's
kernels ahead of time for this machine (see ``aot.py``); scripts/install
runs it. Exit status 1 (and the engine compiles them at start) where it
cannot."""

from __future__ import annotations

import sys

from .aot import build

__all__ = ["main"]


def main() -> int:
    try:
        path = build()
    except Exception as err:  # no C compiler, an unusual platform: the JIT still works
        print(f"streamtts: kernels not compiled ahead of time ({err}); "
              "they will be compiled at engine start", file=sys.stderr)  # fmt: skip
        return 1
    print(f"streamtts: kernels compiled ahead of time: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
