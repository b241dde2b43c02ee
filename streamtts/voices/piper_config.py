"""A Piper voice's ``.onnx.json``: what the model expects and how it sounds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import VoiceError

__all__ = ["PiperVoiceConfig", "load_piper_config"]


@dataclass(frozen=True)
class PiperVoiceConfig:
    sample_rate_hz: int
    espeak_voice: str
    phoneme_id_map: Mapping[str, tuple[int, ...]]
    num_symbols: int
    num_speakers: int
    speaker_id_map: Mapping[str, int]
    length_scale: float
    noise_scale: float
    noise_w_scale: float
    language: str

    def __repr__(self) -> str:
        return (
            f"PiperVoiceConfig({self.language}, {self.sample_rate_hz} Hz, "
            f"espeak={self.espeak_voice!r}, speakers={self.num_speakers})"
        )


def _fail(path: Path, what: str) -> VoiceError:
    return VoiceError(
        f"voice config {path} {what}; use the .onnx.json that was published with the "
        "voice's .onnx file"
    )


def load_piper_config(path: Path) -> PiperVoiceConfig:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise VoiceError(
            f"voice config not found: {path}; a Piper voice needs its .onnx.json beside the "
            ".onnx file (same name plus .json)"
        ) from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _fail(path, f"cannot be read as JSON ({err})") from err
    if not isinstance(raw, dict):
        raise _fail(path, "is not a JSON object")
    phoneme_type = raw.get("phoneme_type", "espeak")
    if phoneme_type != "espeak":
        raise _fail(path, f"uses phoneme_type {phoneme_type!r}; streamtts speaks espeak voices")
    try:
        id_map = {
            str(symbol): tuple(int(i) for i in ids) for symbol, ids in raw["phoneme_id_map"].items()
        }
        inference = raw.get("inference", {})
        config = PiperVoiceConfig(
            sample_rate_hz=int(raw["audio"]["sample_rate"]),
            espeak_voice=str(raw.get("espeak", {}).get("voice", "en-us")),
            phoneme_id_map=MappingProxyType(id_map),
            num_symbols=int(raw.get("num_symbols", 1 + max(max(v) for v in id_map.values()))),
            num_speakers=int(raw.get("num_speakers", 1)),
            speaker_id_map=MappingProxyType(
                {str(k): int(v) for k, v in raw.get("speaker_id_map", {}).items()}
            ),
            length_scale=float(inference.get("length_scale", 1.0)),
            noise_scale=float(inference.get("noise_scale", 0.667)),
            noise_w_scale=float(inference.get("noise_w", 0.8)),
            language=str(
                raw.get("language", {}).get("code", raw.get("espeak", {}).get("voice", "?"))
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _fail(path, f"is missing or has a bad field ({err!r})") from err
    for symbol in ("^", "$", "_"):
        if symbol not in id_map:
            raise _fail(path, f"has no id for the framing symbol {symbol!r}")
    if not 8000 <= config.sample_rate_hz <= 192000:
        raise _fail(path, f"has an implausible sample rate {config.sample_rate_hz}")
    return config
