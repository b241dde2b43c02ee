"""The command line's defaults are the options' own, read and never retyped;
its help shows them; and ``streamtts speak`` needs none of the server extras."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from streamtts.cli import build_parser, main
from streamtts.cli import serve as serve_command
from streamtts.cli import speak as speak_command
from streamtts.config import EngineOptions, SynthesisOptions
from streamtts.sinks.files import FileSink
from streamtts.sinks.soundcard import SoundCardSink

TIMEOUT_S = 300
SERVER_PACKAGES = ("starlette", "hypercorn", "wyoming")
# Options whose help names a default that is not ours to show: the voice's
# own, or an environment variable.
NOT_OURS = {"--noise-scale", "--noise-w", "--token"}


def speak_defaults() -> dict[str, object]:
    engine = EngineOptions()
    return {
        "--rate": engine.synthesis.rate,
        "--delivery": engine.synthesis.delivery,
        "--peak": engine.true_peak_dbtp,
        "--stall": engine.stall_s,
        "--text-format": speak_command.TEXT_FORMAT,
        "--code-blocks": engine.text.code_blocks,
        "--tables": engine.text.tables,
        "--format": inspect.signature(FileSink).parameters["format"].default,
        "--latency": SoundCardSink().requested_latency_s,  # made, not opened
        "--progress": "auto",
        "--precision": engine.voice.precision,
    }


def serve_defaults() -> dict[str, object]:
    from streamtts.serve.server import ServeOptions

    server = ServeOptions()
    return {
        "--host": server.host,
        "--port": server.http_port,
        "--wyoming": " ".join(server.wyoming),
        "--max-streams": server.max_streams,
        "--max-starting": server.max_starting,
        "--model-slots": server.model_slots,
        "--delivery": server.delivery,
        "--peak": server.true_peak_dbtp,
        "--idle-timeout": server.http_limits.idle_s,
        "--drain": server.drain_s,
        "--precision": server.voice_options.precision,
    }


def help_blocks(command: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Each option's help in ``streamtts COMMAND --help``, by its long name."""
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    blocks: dict[str, str] = {}
    current = None
    for line in capsys.readouterr().out.splitlines():
        if not line.strip():
            current = None  # the end of the options; the epilog follows
            continue
        found = re.match(r"  (?:-\w(?: \w+)?, )?(--[\w-]+)", line)
        if found:
            current = found.group(1)
            blocks[current] = line
        elif current is not None:
            blocks[current] += " " + line.strip()
    return blocks


def test_speak_with_no_options_speaks_with_the_engines_defaults() -> None:
    args = build_parser().parse_args(["speak"])
    synthesis = speak_command.synthesis_options(args)
    assert synthesis == SynthesisOptions()
    engine = EngineOptions()
    # The one difference is the command line's own: it reads markdown.
    expected = replace(engine, text=replace(engine.text, format="markdown"), trim_lead_in=True)
    assert speak_command.engine_options(args, synthesis, live=True) == expected
    assert args.latency == SoundCardSink().requested_latency_s


def test_a_device_index_is_a_number() -> None:
    # PortAudio reads a string as part of a device's name: "1" matches none.
    assert build_parser().parse_args(["speak", "--device", "1"]).device == 1
    assert build_parser().parse_args(["speak", "--device", "pulse"]).device == "pulse"


def test_serve_with_no_options_serves_with_the_servers_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("starlette")
    from streamtts.serve.server import ServeOptions

    monkeypatch.delenv("STREAMTTS_TOKEN", raising=False)
    args = build_parser().parse_args(["serve"])
    assert serve_command.options(args) == ServeOptions()
    idle = serve_command.options(build_parser().parse_args(["serve", "--idle-timeout", "4"]))
    assert idle.http_limits.idle_s == idle.wyoming_limits.idle_s == 4
    assert idle.wyoming_limits.event_s == 4  # an event must arrive whole within min(10, this)


@pytest.mark.parametrize("command", ["speak", "serve"])
def test_help_shows_the_options_defaults(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if command == "serve":
        pytest.importorskip("starlette")
    monkeypatch.setenv("COLUMNS", "200")  # one option, one line: no wrap inside a value
    blocks = help_blocks(command, capsys)
    defaults = speak_defaults() if command == "speak" else serve_defaults()
    for flag, value in defaults.items():
        shown = re.findall(r"default (\S+?)(?=[;,):]*(?:\s|$))", blocks[flag])
        assert shown == [str(value)], (flag, blocks[flag])
    for flag, text in blocks.items():  # a default shown anywhere else is tested too
        assert flag in defaults or flag in NOT_OURS or "default " not in text, text
    if command == "serve":
        from streamtts.serve.server import ServeOptions

        event_s = ServeOptions().wyoming_limits.event_s
        assert f"min({event_s}, this)" in blocks["--idle-timeout"]


def python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_the_command_line_imports_no_server() -> None:
    result = python(
        "import sys\n"
        "import streamtts.cli\n"
        "try:\n"
        "    streamtts.cli.main(['speak', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.partition('.')[0] in {SERVER_PACKAGES}))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


# streamtts as installed without the server extras: their imports fail.
WITHOUT_SERVER = (
    "import sys\n"
    f"sys.modules.update(dict.fromkeys({SERVER_PACKAGES}))\n"
    "from streamtts.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_without_the_server_extras_serve_says_what_to_install() -> None:
    helped = python(WITHOUT_SERVER, "serve", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--max-streams" in helped.stdout and "pip install 'streamtts[serve]'" in helped.stdout
    ran = python(WITHOUT_SERVER, "serve")
    assert ran.returncode == 1
    assert ran.stderr.startswith("streamtts: error: serving needs the server extras")
    assert ran.stderr.count("\n") == 1 and "pip install 'streamtts[serve]'" in ran.stderr


def test_without_the_server_extras_speak_speaks(tmp_path: Path, cache_dir: Path) -> None:
    result = python(WITHOUT_SERVER, "speak", "--out", "x.wav", "No server here.", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.wav").stat().st_size > 22050  # half a second of s16le, and more


def test_the_small_device_flags_reach_the_voice() -> None:
    from streamtts import VoiceOptions

    args = build_parser().parse_args(["speak", "--small-device", "Hi."])
    options = speak_command.engine_options(args, speak_command.synthesis_options(args), live=True)
    assert options.voice == VoiceOptions.small_device() == VoiceOptions("int8", 1)
    args = build_parser().parse_args(["speak", "--precision", "int8", "--threads", "2", "Hi."])
    options = speak_command.engine_options(args, speak_command.synthesis_options(args), live=True)
    assert options.voice == VoiceOptions("int8", 2)


def test_serve_takes_the_small_device_flags() -> None:
    pytest.importorskip("starlette")
    from streamtts import VoiceOptions

    served = serve_command.options(build_parser().parse_args(["serve", "--small-device"]))
    assert served.voice_options == VoiceOptions("int8", 1)
