"""Speaks sentences with loudness-tts, for benchmarks/delivery.py.

Runs in loudness-tts's own environment (it is GPL and built on piper-tts;
streamtts never imports it):

    python -m venv /tmp/venv-loudness && /tmp/venv-loudness/bin/pip install loudness-tts==0.1.1
    /tmp/venv-loudness/bin/python benchmarks/loudness_worker.py < job.json

The job (JSON on standard input): {"model": the voice's .onnx, "texts":
[...], "out": a folder}. Each text is said with loudness-tts's defaults
(its text preparation, its calmer delivery: both noise scales x 0.7, -16
LUFS) and saved as out/NNN.wav; one line "done N" at the end.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("LOUDNESS_TTS_OFFLINE", "1")  # the voice is local: never fetch one
    from loudness_tts import TTS

    job = json.load(sys.stdin)
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    tts = TTS(voice=job["model"], threads=2, offline=True, timings=False)
    for index, text in enumerate(job["texts"]):
        tts.synthesize(text).save(str(out / f"{index:03d}.wav"))
    print(f"done {len(job['texts'])}", flush=True)


if __name__ == "__main__":
    main()
