"""How a voice is loaded: weight precision and threads per model part.

``VoiceOptions()`` loads a voice as before this option existed: fp32
weights, two intra-op threads per part (or ``STREAMTTS_ORT_THREADS``).
A small device (one slow core, little memory) wants
``VoiceOptions(precision="int8", threads=1)``: see ``surgery/quantize.py``
for what int8 changes and what it keeps (chunked audio still equals whole).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError

__all__ = ["PRECISIONS", "Precision", "VoiceOptions", "default_threads"]

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")


def default_threads() -> int:
    """Intra-op threads per part when none are asked for: STREAMTTS_ORT_THREADS,
    else two (one per core of the 2-core machines measured), at most the cores."""
    named = os.environ.get("STREAMTTS_ORT_THREADS")
    if named:
        try:
            return max(1, int(named))
        except ValueError:
            raise ConfigError(
                f"STREAMTTS_ORT_THREADS must be a whole number of threads, got {named!r}"
            ) from None
    return min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class VoiceOptions:
    """How a voice's model parts run.

    - ``precision``: ``"fp32"`` (the voice as published) or ``"int8"``
      (its convolutions quantized once, with scales calibrated on a text
      corpus kept in the package, cached beside the fp32 cut). int8 halves
      the model's memory and its CPU time per audio second; chunked audio
      still equals whole-segment audio.
    - ``threads``: onnxruntime intra-op threads for each part (encoder,
      flow, decoder); 1 keeps all synthesis on one core. ``None``: see
      :func:`default_threads`.
    """

    precision: Precision = "fp32"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.threads is not None and not (
            isinstance(self.threads, int) and 1 <= self.threads <= 64
        ):
            raise ConfigError(f"threads must be a whole number from 1 to 64, got {self.threads!r}")

    @classmethod
    def small_device(cls) -> VoiceOptions:
        """What a watch, a phone or a Raspberry Pi wants: int8 weights, all
        synthesis on one core (``--small-device``)."""
        return cls(precision="int8", threads=1)

    @property
    def intra_op_threads(self) -> int:
        return default_threads() if self.threads is None else self.threads
