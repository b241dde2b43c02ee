"""A stock Piper model, cut once and cached on disk.

The first load of a voice cuts its graph (``graph_cut``, which also folds
the encoder's layer norms), verifies the cut against the whole graph,
measures the receptive fields, and stores the three parts with what was
measured; later loads read the cache. A voice that cannot be cut is run
whole, with one warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ...errors import VoiceError
from ..piper_config import PiperVoiceConfig
from ..sessions import new_session
from .graph_cut import CutError, CutInfo, cut_piper_graph
from .verify import receptive_fields, verify_cut

__all__ = ["CUT_FORMAT", "CutVoice", "load_or_cut"]

_log = logging.getLogger(__name__)

CUT_FORMAT = "cut-v3"  # bump when the cut's files or meaning change

# What a load gives the runtime: the cut's description (None: not cut),
# onnxruntime sessions by part, and the size of the phoneme vocabulary.
CutVoice = tuple[CutInfo | None, dict[str, Any], int]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_or_cut(model_path: Path, config: PiperVoiceConfig, cache_root: Path) -> CutVoice:
    """The voice's sessions, from the cache or from a fresh cut."""
    cache = cache_root / CUT_FORMAT / file_digest(model_path)[:32]
    found = _load_cached(cache)
    if found[0] is not None:
        return found
    return _cut_and_cache(model_path, config, cache)


def _load_cached(cache: Path) -> CutVoice:
    info_path = cache / "cut.json"
    try:
        info = CutInfo.from_json(info_path.read_text())
        sessions = {
            part: new_session(cache / f"{part}.onnx", part)
            for part in ("encoder", "flow", "decoder")
        }
        vocabulary = int(info.extra.get("vocabulary_size", "0"))
    except FileNotFoundError:
        return None, {}, 0
    except Exception as err:  # a damaged cache is rebuilt, never trusted
        _log.warning("ignoring damaged voice cache %s (%s); rebuilding it", cache, err)
        return None, {}, 0
    return info, sessions, vocabulary


def _vocabulary_size(model: Any) -> int:
    """Rows of the phoneme embedding: the Gather that reads ``input``."""
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == "input":
            table = initializers.get(node.input[0])
            if table is not None:
                return int(table.dims[0])
    return 0


def _cut_and_cache(model_path: Path, config: PiperVoiceConfig, cache: Path) -> CutVoice:
    import onnx

    try:
        model = onnx.load(str(model_path))
    except Exception as err:
        raise VoiceError(
            f"voice model {model_path} is damaged or not an ONNX file ({type(err).__name__}: "
            f"{err}); download or reinstall the voice"
        ) from err
    vocabulary = _vocabulary_size(model)
    original = model.SerializeToString()
    try:
        cut = cut_piper_graph(model)  # edits `model` in place
        sessions = {
            "encoder": new_session(cut.encoder, "encoder"),
            "flow": new_session(cut.flow, "flow"),
            "decoder": new_session(cut.decoder, "decoder"),
        }
        samples_per_frame, fixed = verify_cut(original, cut.info, sessions, config)
        flow_radius, decoder_radius = receptive_fields(cut.info, sessions, fixed, samples_per_frame)
        extra = {
            "vocabulary_size": str(vocabulary),
            "samples_per_frame": str(samples_per_frame),
            "flow_context_frames": str(flow_radius),
            "decoder_context_frames": str(decoder_radius),
        }
        info = CutInfo(**{**cut.info.__dict__, "extra": extra})
    except (CutError, VoiceError) as err:
        warnings.warn(
            f"voice {model_path.name} cannot be cut for streaming ({err}); it will speak "
            "whole segments at a time (higher latency), and a seed cannot fix its noise",
            RuntimeWarning,
            stacklevel=4,
        )
        try:
            return None, {"whole": new_session(original)}, vocabulary
        except Exception as load_err:
            raise VoiceError(
                f"voice model {model_path} cannot be run by onnxruntime ({load_err}); "
                "download or reinstall the voice"
            ) from load_err
    _store(cache, info, cut.encoder, cut.flow, cut.decoder)
    return info, sessions, vocabulary


def _store(cache: Path, info: CutInfo, encoder: bytes, flow: bytes, decoder: bytes) -> None:
    """Write the cut atomically; a read-only cache only costs the next load."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache.parent))
    except OSError as err:
        _log.warning(
            "cannot cache the cut voice in %s (%s); it will be cut on every load", cache, err
        )
        return
    try:
        for part, data in (("encoder", encoder), ("flow", flow), ("decoder", decoder)):
            (staging / f"{part}.onnx").write_bytes(data)
        (staging / "cut.json").write_text(info.to_json())
        with contextlib.suppress(OSError):  # another process stored it first
            staging.rename(cache)
    except OSError as err:
        _log.warning("cannot cache the cut voice in %s (%s)", cache, err)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
