"""A stock Piper model, cut once and cached on disk.

The first load of a voice cuts its graph (``graph_cut``, which also folds
the encoder's layer norms), verifies the cut against the whole graph,
measures the receptive fields, and stores the three parts with what was
measured; later loads read the cache. A voice that cannot be cut is run
whole, with one warning.

Beside the cut, in the same cache root: the int8 parts (``INT8_FORMAT``,
made from the fp32 cut the first time a voice is loaded with
``precision="int8"``, see ``quantize.py``), and each part's graph as
onnxruntime optimized it on this machine (``OPTIMIZED_FORMAT``, see
``sessions.py``), which later starts load without optimizing again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ...errors import VoiceError
from ..options import VoiceOptions
from ..piper_config import PiperVoiceConfig
from ..sessions import machine_key, new_session
from .graph_cut import CutError, CutInfo, cut_piper_graph
from .verify import receptive_fields, verify_cut

__all__ = ["CUT_FORMAT", "INT8_FORMAT", "OPTIMIZED_FORMAT", "CutVoice", "load_or_cut"]

_log = logging.getLogger(__name__)

CUT_FORMAT = "cut-v3"  # bump when the cut's files or meaning change
INT8_FORMAT = "int8-v2"  # bump when the quantization or calibration.txt changes
OPTIMIZED_FORMAT = "optimized-v2"  # v1 could pair a graph with a re-made part
PARTS = ("encoder", "flow", "decoder")

# What a load gives the runtime: the cut's description (None: not cut),
# onnxruntime sessions by part, the size of the phoneme vocabulary, and the
# precision the parts run in ("fp32" when int8 was asked but not possible).
CutVoice = tuple[CutInfo | None, dict[str, Any], int, str]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_digest(path: Path, cache_root: Path) -> str:
    """``file_digest`` of the model, remembered for this file's path, size,
    inode and modification time: hashing 63 MB took 0.1-0.15 s of every
    start."""
    try:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_ino}|{stat.st_mtime_ns}"
    except OSError:
        return file_digest(path)
    memo = cache_root / "digests" / hashlib.sha256(key.encode()).hexdigest()[:32]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        known = memo.read_text().strip()
        if len(known) == 64:
            return known
    digest = file_digest(path)
    with contextlib.suppress(OSError):
        memo.parent.mkdir(parents=True, exist_ok=True)
        staging = memo.with_name(f".{memo.name}.{os.getpid()}")
        staging.write_text(digest)
        staging.replace(memo)
    return digest


def load_or_cut(
    model_path: Path,
    config: PiperVoiceConfig,
    cache_root: Path,
    options: VoiceOptions | None = None,
    *,
    rebuild: bool = True,
) -> CutVoice:
    """The voice's sessions, from the cache or from a fresh cut (and, for
    int8, a fresh quantization). ``rebuild``: a cache that fails to load is
    made again (once)."""
    options = options or VoiceOptions()
    digest = _model_digest(model_path, cache_root)[:32]
    cut_dir = cache_root / CUT_FORMAT / digest
    info = _read_info(cut_dir)
    parts: dict[str, bytes | Path] = {part: cut_dir / f"{part}.onnx" for part in PARTS}
    if info is None:
        cut_info, made, vocabulary = _cut_and_cache(model_path, config, cut_dir, options)
        if cut_info is None:
            return None, made, vocabulary, "fp32"  # the whole graph: it cannot be cut
        info, parts = cut_info, made
    precision = options.precision
    if precision == "int8":
        int8 = _int8_parts(parts, info, config, cache_root / INT8_FORMAT / digest, options)
        parts, precision = (int8, "int8") if int8 is not None else (parts, "fp32")
    optimized = cache_root / OPTIMIZED_FORMAT / machine_key() / digest
    try:
        sessions = _open_sessions(parts, precision, optimized, options)
    except Exception as err:  # a damaged cache is rebuilt once, never trusted
        if not rebuild or not any(isinstance(source, Path) for source in parts.values()):
            raise
        _log.warning("ignoring damaged voice cache %s (%s); rebuilding it", cut_dir, err)
        shutil.rmtree(cut_dir, ignore_errors=True)
        shutil.rmtree(cache_root / INT8_FORMAT / digest, ignore_errors=True)
        shutil.rmtree(optimized, ignore_errors=True)
        return load_or_cut(model_path, config, cache_root, options, rebuild=False)
    return info, sessions, int(info.extra.get("vocabulary_size", "0")), precision


def _open_sessions(
    parts: dict[str, bytes | Path], precision: str, optimized: Path, options: VoiceOptions
) -> dict[str, Any]:
    """A session per part; a part read from a file keeps its optimized graph
    in ``optimized``, named after the file's identity, so a re-made part
    (another cut or quantization) never meets the graph of its predecessor."""
    sessions = {}
    for part, source in parts.items():
        kept = None
        if isinstance(source, Path):
            stat = source.stat()
            identity = f"{source.resolve()}|{stat.st_size}|{stat.st_ino}|{stat.st_mtime_ns}"
            tag = hashlib.sha256(identity.encode()).hexdigest()[:16]
            kept = optimized / f"{precision}.{part}.{tag}.onnx"
            for stale in optimized.glob(f"{precision}.{part}.*.onnx"):
                if stale != kept:
                    with contextlib.suppress(OSError):
                        stale.unlink()
        threads = options.intra_op_threads
        sessions[part] = new_session(source, part, threads=threads, optimized=kept)
    return sessions


def _read_info(cut_dir: Path) -> CutInfo | None:
    """The cached cut's description; None when there is no whole cut here."""
    try:
        info = CutInfo.from_json((cut_dir / "cut.json").read_text())
    except FileNotFoundError:
        return None
    except Exception as err:  # a damaged cache is rebuilt, never trusted
        _log.warning("ignoring damaged voice cache %s (%s); rebuilding it", cut_dir, err)
        return None
    if not all((cut_dir / f"{part}.onnx").is_file() for part in PARTS):
        _log.warning("voice cache %s lacks a part; rebuilding it", cut_dir)
        return None
    return info


def _int8_parts(
    fp32: dict[str, bytes | Path],
    info: CutInfo,
    config: PiperVoiceConfig,
    int8_dir: Path,
    options: VoiceOptions,
) -> dict[str, bytes | Path] | None:
    """The int8 parts: cached, or quantized now from the fp32 cut and cached.
    None (with a warning) when this voice cannot be quantized."""
    from .quantize import calibration_feeds, quantize_part

    cached: dict[str, bytes | Path] = {part: int8_dir / f"{part}.onnx" for part in PARTS}
    if all((int8_dir / name).is_file() for name in ("int8.json", *(f"{p}.onnx" for p in PARTS))):
        return cached
    _log.info("quantizing the voice to int8 (once; cached in %s)", int8_dir)
    try:
        sessions = {
            part: new_session(source, part, threads=options.intra_op_threads)
            for part, source in fp32.items()
        }
        feeds = calibration_feeds(sessions, info, config)
        del sessions
        made = {
            part: quantize_part(
                part, source.read_bytes() if isinstance(source, Path) else source, feeds[part]
            )
            for part, source in fp32.items()
        }
    except Exception as err:
        warnings.warn(
            f"this voice cannot be quantized to int8 ({type(err).__name__}: {err}); "
            "it runs with fp32 weights",
            RuntimeWarning,
            stacklevel=5,
        )
        return None
    record = json.dumps({"format": INT8_FORMAT, "parts": list(made)}, indent=1)
    if _store(int8_dir, {**{f"{p}.onnx": data for p, data in made.items()}, "int8.json": record}):
        return cached
    return dict(made)


def _vocabulary_size(model: Any) -> int:
    """Rows of the phoneme embedding: the Gather that reads ``input``."""
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == "input":
            table = initializers.get(node.input[0])
            if table is not None:
                return int(table.dims[0])
    return 0


def _cut_and_cache(
    model_path: Path, config: PiperVoiceConfig, cut_dir: Path, options: VoiceOptions
) -> tuple[CutInfo | None, dict[str, Any], int]:
    """Cut, verify and cache: (info, each part's graph, vocabulary); or, for
    a voice that cannot be cut, (None, its whole-graph session, vocabulary)."""
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
        int8 = "; int8 needs the cut, so it runs with fp32 weights"
        warnings.warn(
            f"voice {model_path.name} cannot be cut for streaming ({err}); it will speak "
            "whole segments at a time (higher latency), and a seed cannot fix its noise"
            + (int8 if options.precision == "int8" else ""),
            RuntimeWarning,
            stacklevel=4,
        )
        try:
            whole = new_session(original, threads=options.intra_op_threads)
        except Exception as load_err:
            raise VoiceError(
                f"voice model {model_path} cannot be run by onnxruntime ({load_err}); "
                "download or reinstall the voice"
            ) from load_err
        return None, {"whole": whole}, vocabulary
    parts = {"encoder": cut.encoder, "flow": cut.flow, "decoder": cut.decoder}
    files: dict[str, bytes | str] = {f"{part}.onnx": data for part, data in parts.items()}
    if _store(cut_dir, {**files, "cut.json": info.to_json()}):
        return info, {part: cut_dir / f"{part}.onnx" for part in PARTS}, vocabulary
    return info, dict(parts), vocabulary


def _store(folder: Path, files: dict[str, bytes | str]) -> bool:
    """Write ``files`` into ``folder`` atomically (all or none); False when
    it cannot be cached (a read-only cache only costs the next load)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    except OSError as err:
        _log.warning("cannot cache %s (%s); it will be made again on every load", folder, err)
        return False
    try:
        for name, data in files.items():
            target = staging / name
            if isinstance(data, str):
                target.write_text(data)
            else:
                target.write_bytes(data)
        with contextlib.suppress(OSError):  # another process stored it first
            staging.rename(folder)
    except OSError as err:
        _log.warning("cannot cache %s (%s)", folder, err)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return all((folder / name).is_file() for name in files)
