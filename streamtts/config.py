"""Options, frozen, with units in their names.

Channel and buffer sizes live here too, each with the reason for its value,
so every bound on memory and latency can be read in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["SynthesisOptions"]


@dataclass(frozen=True)
class SynthesisOptions:
    """How a voice speaks. ``None`` means "the voice's own default".

    - ``rate``: speaking-rate factor; 1.0 is the voice's pace, 1.5 is half
      again as fast (the model's length scale is divided by it).
    - ``noise_scale``: variation of the voice's timbre and pitch (prior noise).
    - ``noise_w_scale``: variation of phoneme durations (duration noise).
    - ``seed``: makes the noise, and so the audio, reproducible.
    - ``speaker``: a speaker id or name, for multi-speaker voices.
    """

    rate: float = 1.0
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    seed: int | None = None
    speaker: int | str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, (int, float)) and math.isfinite(self.rate)):
            raise ConfigError(f"rate must be a number, got {self.rate!r}")
        if not 0.1 <= self.rate <= 10.0:
            raise ConfigError(
                f"rate must be between 0.1 and 10 (1.0 = normal pace), got {self.rate}"
            )
        for name in ("noise_scale", "noise_w_scale"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 2.0):
                raise ConfigError(f"{name} must be between 0 and 2, got {value}")
        if self.seed is not None and not (isinstance(self.seed, int) and self.seed >= 0):
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
