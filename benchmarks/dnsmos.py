"""DNSMOS P.835 (Reddy, Gopal and Cutler, ICASSP 2022): how natural speech
sounds, predicted without a reference, as SIG (the speech), BAK (the
background) and OVRL (overall) on a 1-5 opinion scale.

The model is Microsoft's ``sig_bak_ovr.onnx``. It is never downloaded here:
the ``speechmos`` wheel on PyPI ships it (``speechmos/dnsmos_models/``), and
only that file is used (speechmos's own code imports librosa, which the
P.808 score it adds needs and OVRL does not). ``STREAMTTS_DNSMOS_MODEL``
may name another copy. torchmetrics' DNSMOS, by contrast, fetches the model
from GitHub on first use.

As in the challenge's own scoring: 16 kHz audio, shorter clips repeated
until they fill the model's 9.01 s window, windows a second apart, the
model's raw outputs mapped by its published polynomials, then averaged.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

SAMPLE_RATE = 16000
WINDOW = int(9.01 * SAMPLE_RATE)
# Raw model output -> MOS, the non-personalised polynomials (highest power first).
_POLYNOMIALS = {
    "sig": (-0.08397278, 1.22083953, 0.0052439),
    "bak": (-0.13166888, 1.60915514, -0.39604546),
    "ovrl": (-0.06766283, 1.11546468, 0.04602535),
}


def model_path() -> Path:
    """Where ``sig_bak_ovr.onnx`` is: $STREAMTTS_DNSMOS_MODEL, else the speechmos wheel."""
    if named := os.environ.get("STREAMTTS_DNSMOS_MODEL"):
        return Path(named)
    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "DNSMOS needs its model: pip install --no-deps speechmos (the wheel ships "
            "sig_bak_ovr.onnx), or set STREAMTTS_DNSMOS_MODEL to the file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "dnsmos_models" / "sig_bak_ovr.onnx"


class Dnsmos:
    """Scores 16 kHz mono float audio; one onnxruntime session, one thread
    (on a busy 2-core machine one thread scored a window in half the time)."""

    def __init__(self, path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.path = path or model_path()
        self._session = ort.InferenceSession(str(self.path), options, ["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def score(self, audio: np.ndarray, *, every_window: bool = True) -> dict[str, float]:
        """{"sig", "bak", "ovrl"} of one clip at 16 kHz.

        ``every_window=False`` scores only the first window: a sentence,
        repeated to fill it, gives the same speech shifted in the others
        (a 3.4 s sentence is repeated to 13.8 s, five windows), at a fifth
        of the cost."""
        audio = np.asarray(audio, dtype=np.float32)
        if not audio.size:
            raise ValueError("an empty clip has no score")
        while audio.size < WINDOW:
            audio = np.concatenate([audio, audio])
        hops = int(np.floor(audio.size / SAMPLE_RATE) - WINDOW / SAMPLE_RATE) + 1
        hops = hops if every_window else 1
        windows = [audio[k * SAMPLE_RATE : k * SAMPLE_RATE + WINDOW] for k in range(hops)]
        windows = [w for w in windows if w.size == WINDOW]
        raw = self._session.run(None, {self._input: np.stack(windows)})[0]
        scores = {}
        for column, name in enumerate(("sig", "bak", "ovrl")):
            mos = np.polyval(_POLYNOMIALS[name], raw[:, column].astype(np.float64))
            scores[name] = float(np.mean(mos))
        return scores
