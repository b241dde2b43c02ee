"""int8 weights against fp32: words understood and how natural it sounds.

    .venv/bin/python benchmarks/int8_quality.py          # about 15 minutes on 2 cores
    .venv/bin/python benchmarks/int8_quality.py --quick  # two sentences a group: a smoke run

The same sentences (benchmarks/delivery.py's corpus: prose, written forms,
titles and abbreviations), the same seeds (1, 2, 3), the default (calm)
delivery, said by the default voice loaded twice: as published (fp32) and
with ``--precision int8`` (surgery/quantize.py: what is quantized and why).
Each run is judged as the delivery benchmark judges it: Whisper tiny.en
word errors (both sides through Whisper's English normalizer) and DNSMOS
P.835 OVRL averaged over the sentences.

Goal (issue 24): int8's word error rate no more than 0.5 points above
fp32's, and its OVRL no more than 0.05 below, on the mean of the seeds.

Writes benchmarks/results/int8_quality.json and int8_quality.md.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from delivery import GROUPS, SEEDS, corpus, pct, score_run, summary, whisper
from dnsmos import Dnsmos
from report import save

from streamtts import SynthesisOptions, Synthesizer, load_voice

PRECISIONS = ("fp32", "int8")


def said(voice: Any, seed: int, texts: list[str]) -> list[np.ndarray]:
    synthesizer = Synthesizer(voice, SynthesisOptions(seed=seed))
    return [np.concatenate([c.samples for c in synthesizer.speak([t])]) for t in texts]


def table(results: dict[str, Any]) -> list[str]:
    rows = results["rows"]
    lines = [
        "| weights | WER, mean of 3 seeds | per seed | titles | DNSMOS OVRL |",
        "|---|---|---|---|---|",
    ]
    for name in PRECISIONS:
        s = rows[name]["summary"]
        seeds = " / ".join(pct(v) for v in s["wer all"]["runs"])
        lines.append(
            f"| {name} | {pct(s['wer all']['mean'])} | {seeds} | "
            f"{pct(s['wer titles']['mean'])} | {s['ovrl']['mean']:.3f} |"
        )
    fp32, int8 = (rows[n]["summary"] for n in PRECISIONS)
    wer_change = int8["wer all"]["mean"] - fp32["wer all"]["mean"]
    ovrl_change = int8["ovrl"]["mean"] - fp32["ovrl"]["mean"]
    lines += [
        "",
        f"int8 - fp32: WER {100 * wer_change:+.2f} points (goal ≤ +0.5: "
        f"{'yes' if wer_change <= 0.005 else '**no**'}), OVRL {ovrl_change:+.3f} "
        f"(goal ≥ -0.05: {'yes' if ovrl_change >= -0.05 else '**no**'}).",
        f"{results['sentences']} sentences, seeds {', '.join(map(str, SEEDS))}, "
        f"Whisper tiny.en, {results['seconds']:.0f} s in all.",
    ]
    return lines


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    started = time.monotonic()
    rows = corpus()
    if quick:
        rows = [r for g in GROUPS for r in [r for r in rows if r[0] == g][:2]]
    texts = [t for _, t, _ in rows]
    model, judge = whisper(), Dnsmos()
    results: dict[str, Any] = {"seeds": SEEDS, "sentences": len(rows), "rows": {}}
    for precision in PRECISIONS:
        voice = load_voice(precision=precision)  # type: ignore[arg-type]
        runs = []
        for seed in SEEDS:
            clips = said(voice, seed, texts)
            runs.append(score_run(model, judge, clips, voice.sample_rate_hz, rows))
            print(f"int8_quality: {precision} seed {seed}: {pct(runs[-1]['wer']['all'])}",
                  file=sys.stderr)  # fmt: skip
        results["rows"][precision] = {"summary": summary(runs), "runs": runs}
    results["seconds"] = time.monotonic() - started
    save("int8_quality-quick" if quick else "int8_quality", results, table(results))


if __name__ == "__main__":
    main()
