"""Checks of a cut voice, measured on the model itself.

``verify_cut``: the three parts, noise off, must equal the whole graph.
``receptive_fields``: how many frames either side the flow and the decoder
look at, by perturbation; that radius is the context a chunk needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import VoiceError
from ...text.phoneme_ids import to_phoneme_ids
from ..piper_config import PiperVoiceConfig
from ..sessions import new_session
from .graph_cut import DP_NOISE_INPUT, CutError, CutInfo

__all__ = ["receptive_fields", "verify_cut"]

VERIFY_TOLERANCE = 1e-4


def verify_cut(
    original: bytes, info: CutInfo, sessions: dict[str, Any], config: PiperVoiceConfig
) -> tuple[int, dict[str, np.ndarray]]:
    """The three parts with noise off must equal the whole graph.

    Returns the decoder's samples per frame, and the encoder outputs the
    flow and decoder read besides z (a speaker embedding, the mask).
    """
    symbols = [s for s in "həlˈoʊ ðˈɛɹ, wˈʌn tˈuː θɹˈiː." if s in config.phoneme_id_map]
    ids = to_phoneme_ids(symbols, config.phoneme_id_map)
    feeds: dict[str, np.ndarray] = {
        "input": ids.ids[np.newaxis, :],
        "input_lengths": np.array([len(ids.ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    if "sid" in info.text_inputs:
        feeds["sid"] = np.zeros((1,), dtype=np.int64)
    try:
        whole = new_session(original).run(None, feeds)[0].reshape(-1)
    except Exception as err:
        raise VoiceError(f"the voice model fails to run ({err}); reinstall the voice") from err
    enc_feeds = dict(feeds)
    if info.has_dp_noise:
        enc_feeds[DP_NOISE_INPUT] = np.zeros((1, info.dp_noise_channels, len(ids.ids)), np.float32)
    names = [o.name for o in sessions["encoder"].get_outputs()]
    results = dict(zip(names, sessions["encoder"].run(None, enc_feeds), strict=True))
    flow_feeds = {info.z_p: results[info.m_p]}
    flow_feeds.update({name: results[name] for name in info.flow_externals})
    z = sessions["flow"].run(None, flow_feeds)[0]
    decoder_feeds = {info.z: z}
    decoder_feeds.update({name: results[name] for name in info.decoder_externals})
    parts = sessions["decoder"].run(None, decoder_feeds)[0].reshape(-1)
    if parts.shape != whole.shape:
        raise CutError(f"cut gives {parts.shape[0]} samples, whole graph {whole.shape[0]}")
    error = float(np.max(np.abs(parts - whole))) if whole.size else 0.0
    if error > VERIFY_TOLERANCE:
        raise CutError(f"cut differs from the whole graph by {error:.2e}")
    frames = int(results[info.durations].sum())
    if frames <= 0 or whole.size % max(frames, 1):
        raise CutError(f"durations ({frames} frames) do not divide {whole.size} samples")
    extras = {name: results[name] for name in info.flow_externals + info.decoder_externals}
    extras[info.m_p] = results[info.m_p]  # for its shape: [1, channels, frames]
    return whole.size // frames, extras


def receptive_fields(
    info: CutInfo, sessions: dict[str, Any], extras: dict[str, np.ndarray], hop: int
) -> tuple[int, int]:
    """How many frames either side each part looks at, by perturbation.

    Nudge one frame in the middle of a random input and see how far the
    output changes: outside its receptive field a convolutional part gives
    bit-identical output (same shapes, same kernels). That radius is the
    context a chunk needs to equal whole-segment synthesis.
    """
    rng = np.random.default_rng(0)
    frames, middle = 160, 80
    channels = int(extras[info.m_p].shape[1])

    def feeds(start: str, value: np.ndarray, externals: list[str]) -> dict[str, np.ndarray]:
        out = {start: value}
        for name in externals:
            tensor = extras[name]
            if tensor.ndim == 3 and tensor.shape[-1] > 1 and tensor.shape[1] == 1:
                tensor = np.ones((1, 1, frames), dtype=tensor.dtype)  # the frame mask
            out[name] = tensor
        return out

    def radius(part: str, start: str, externals: list[str], per_frame: int) -> int:
        base = rng.standard_normal((1, channels, frames)).astype(np.float32)
        nudged = base.copy()
        nudged[:, :, middle] += 1.0
        a = sessions[part].run(None, feeds(start, base, externals))[0].reshape(-1)
        b = sessions[part].run(None, feeds(start, nudged, externals))[0]
        changed = np.flatnonzero(b.reshape(-1) != a)
        # flow output [1, C, frames]: index -> frame; decoder: sample -> frame
        changed = changed % frames if part == "flow" else changed // per_frame
        if changed.size == 0:
            raise CutError(f"the {part} ignores its input")
        reach = int(max(middle - changed.min(), changed.max() - middle))
        if reach >= middle - 1:
            raise CutError(f"the {part} sees {reach}+ frames away: too far to stream")
        return reach

    return (
        radius("flow", info.z_p, info.flow_externals, 1),
        radius("decoder", info.z, info.decoder_externals, hop),
    )
