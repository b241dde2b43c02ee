"""Set-up for screen reader users: the module's configuration file, and the
``AddModule`` line that tells speech-dispatcher where ``sd_streamtts`` is.

speech-dispatcher starts the module with that file's path as its argument,
as it does its own modules; :func:`read_module_config` turns the settings
in it into the environment variables of the same meaning, which win when
both are given (a one-off run, a test).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["SETTINGS", "install", "module_line", "read_module_config", "write_module_config"]

_SYSTEM_CONF = Path("/etc/speech-dispatcher/speechd.conf")
# The file's settings and the environment variables they stand for.
SETTINGS = {
    "StreamttsVoice": "STREAMTTS_VOICE",
    "StreamttsVoiceDir": "STREAMTTS_VOICE_DIR",
    "StreamttsOutput": "STREAMTTS_SPEECHD_OUTPUT",
    "StreamttsLatency": "STREAMTTS_SPEECHD_LATENCY",
    "StreamttsLog": "STREAMTTS_SPEECHD_LOG",
    "StreamttsPrecision": "STREAMTTS_PRECISION",
    "StreamttsThreads": "STREAMTTS_ORT_THREADS",
}
_MODULE_CONF = """\
# sd_streamtts: streamtts as a speech-dispatcher output module.
# Remove the '#' before a setting to change it; restart speech-dispatcher
# after. (An environment variable of the same meaning wins over this file.)

# The session's voice: an installed voice's name or a Piper .onnx file.
# StreamttsVoice "en_US-joe-medium"

# A folder of Piper voices (name.onnx beside name.onnx.json): they are
# offered in LIST VOICES (Orca's voice menu) and chosen by name or language.
# StreamttsVoiceDir "/home/me/piper-voices"

# "server": speech-dispatcher plays the audio (as for its own modules);
# "device": the module plays on the sound card itself.
# StreamttsOutput "server"

# With "device": the sound card buffer, in seconds.
# StreamttsLatency 0.02

# How much the module logs: ERROR, WARNING, INFO or DEBUG.
# StreamttsLog "WARNING"

# A small device (one slow core): "int8" weights (made once, cached; half
# the memory, less CPU per word) and one onnxruntime thread per model part.
# StreamttsPrecision "fp32"
# StreamttsThreads 2
"""


def read_module_config(path: Path) -> dict[str, str]:
    """The settings in the module's file, as environment variables.

    Lines are ``Name value`` or ``Name "value"``; ``#`` starts a comment;
    ``~`` in a path is the user's home. A line it does not understand comes
    back under the key ``"?line N"`` (the line as its value), for the log.
    """
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name in SETTINGS and value:
            if name in ("StreamttsVoice", "StreamttsVoiceDir"):
                value = os.path.expanduser(value)
            found[SETTINGS[name]] = value
        else:
            found[f"?line {number}"] = raw
    return found


def _module_binary() -> str:
    found = shutil.which("sd_streamtts") or str(Path(sys.executable).parent / "sd_streamtts")
    return str(Path(found).resolve())


def write_module_config(config_dir: Path) -> Path:
    """The module's file under ``config_dir``/modules; one already there
    (perhaps edited) is kept."""
    modules = config_dir / "modules"
    modules.mkdir(parents=True, exist_ok=True)
    path = modules / "streamtts.conf"
    if not path.exists():
        path.write_text(_MODULE_CONF)
    return path


def module_line(config: Path) -> str:
    return f'AddModule "streamtts" "{_module_binary()}" "{config.name}"'


# speech-dispatcher plays its modules' audio through PulseAudio with a
# buffer of AudioPulseMinLength ms, 10 by default: any 10 ms in which its
# audio thread does not run is a gap heard. Measured at the sound server's
# monitor (benchmarks/load.py), with two other processes keeping both cores
# busy: 2-3 gaps in 8-12 sentences at 10 ms, none at 40 ms; the price is the
# stop, spd-say -C to silence 17 -> 44 ms (benchmarks/speechd.py). A user's
# own setting is kept.
PULSE_BUFFER_MS = 40
_PULSE_LINES = (
    "# streamtts-speechd setup: a 40 ms audio buffer keeps speech whole on a busy",
    "# CPU (10 ms, the default, gaps); a stop then takes ~45 ms instead of ~20.",
    f"AudioPulseMinLength {PULSE_BUFFER_MS}",
)


def install(config_dir: Path, line: str, *, default: bool) -> Path:
    """Add ``line`` to the user's speechd.conf (a copy of the system's if
    none), and the audio buffer that keeps speech whole on a busy machine
    (:data:`PULSE_BUFFER_MS`) unless the user set one."""
    conf = config_dir / "speechd.conf"
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(_SYSTEM_CONF.read_text() if _SYSTEM_CONF.exists() else "")
    lines = [
        kept
        for kept in conf.read_text().splitlines()
        if not kept.startswith('AddModule "streamtts"')
        and not (default and kept.strip().startswith("DefaultModule"))
    ]
    if not any(kept.strip().startswith("AudioPulseMinLength") for kept in lines):
        lines += _PULSE_LINES
    lines.append(line)
    if default:
        lines.append("DefaultModule streamtts")
    conf.write_text("\n".join(lines) + "\n")
    return conf
