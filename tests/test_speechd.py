"""The speech-dispatcher module with Debian's own speech-dispatcher, ``spd-say``
and ``python3-speechd`` client, on the test sound server, recorded back
from its monitor."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from .conftest import has_sound
from .harness import MonitorRecorder, median_pitch_hz
from .test_speechd_voices import SLOW, make_slow_voice

MODULE = str(Path(sys.executable).parent / "sd_streamtts")
OUTPUT = os.environ.get("STREAMTTS_AUDIO_OUTPUT", "streamtts_sink")
MONITOR = os.environ.get("STREAMTTS_AUDIO_INPUT", "streamtts_monitor")
AUDIBLE = 0.01

pytestmark = pytest.mark.device


def protocol(lines: str, wait_s: float = 0.0) -> list[str]:
    """Drive ``sd_streamtts`` directly: its replies, line by line."""
    result = subprocess.run(
        [MODULE], input=lines.encode(), capture_output=True, timeout=120,
        env={**os.environ, "STREAMTTS_SPEECHD_LATENCY": "0.05"},
    )  # fmt: skip
    return result.stdout.decode().splitlines()


@pytest.mark.skipif(not has_sound(), reason="needs a sound server")
def test_protocol_replies_and_bad_input(cache_dir: Path) -> None:
    replies = protocol(
        "SPEAK\nToo early.\n.\nINIT\nBOGUS COMMAND\nSET\nnonsense\n.\n"
        "SET\npunctuation_mode=loud\n.\nSET\nrate=10\nvolume=-20\n.\n"
        "LIST VOICES\nCHAR\nspace\n.\nQUIT\n"
    )
    assert replies[:2] == ["202 OK RECEIVING MESSAGE", "301 ERROR CANT SPEAK"]  # before INIT
    assert replies[2].startswith("299-") and replies[3] == "299 OK LOADED SUCCESSFULLY"
    assert replies[4] == "300 ERR UNKNOWN COMMAND"
    assert replies[5:7] == ["203 OK RECEIVING SETTINGS", "303 ERROR INVALID PARAMETER OR VALUE"]
    assert replies[7:9] == ["203 OK RECEIVING SETTINGS", "303 ERROR INVALID PARAMETER OR VALUE"]
    assert replies[9:11] == ["203 OK RECEIVING SETTINGS", "203 OK SETTINGS RECEIVED"]
    assert replies[11] == "200-en_US-joe-medium\ten-US\tnone"
    assert replies[12] == "200 OK VOICE LIST SENT"
    assert "200 OK SPEAKING" in replies and replies[-1] == "210 OK QUIT"


def test_setup_writes_the_module_line_once(tmp_path: Path) -> None:
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "streamtts", "speechd-setup", "--install", "--default",
             "--config-dir", str(tmp_path)],
            capture_output=True, timeout=60, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    conf = (tmp_path / "speechd.conf").read_text().splitlines()
    assert sum(line.startswith('AddModule "streamtts"') for line in conf) == 1
    assert conf.count("DefaultModule streamtts") == 1
    assert (tmp_path / "modules" / "streamtts.conf").exists()
    assert 'AddModule "streamtts"' in result.stdout
    # The audio buffer that keeps speech whole on a busy CPU, once; a
    # user's own setting is kept.
    assert conf.count("AudioPulseMinLength 40") == 1
    own = [line for line in conf if not line.startswith("AudioPulseMinLength")]
    (tmp_path / "speechd.conf").write_text("\n".join([*own, "AudioPulseMinLength 25"]) + "\n")
    subprocess.run(
        [sys.executable, "-m", "streamtts", "speechd-setup", "--install",
         "--config-dir", str(tmp_path)],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    conf = (tmp_path / "speechd.conf").read_text().splitlines()
    assert [line for line in conf if line.startswith("AudioPulseMinLength")] == [
        "AudioPulseMinLength 25"
    ]


def test_a_module_that_cannot_start_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [MODULE], input=b"INIT\n", capture_output=True, timeout=60,
        env={**os.environ, "STREAMTTS_VOICE": str(tmp_path / "missing.onnx")},
    )  # fmt: skip
    lines = result.stdout.decode().splitlines()
    assert lines[-1] == "399 ERR CANT INIT MODULE" and "not found" in lines[0]
    assert result.returncode == 1


class Dispatcher:
    def __init__(
        self, root: Path, module_env: dict[str, str] | None = None, module_conf: str = ""
    ) -> None:
        conf = root / "conf"
        for folder in ("modules", "clients"):
            shutil.copytree(f"/etc/speech-dispatcher/{folder}", conf / folder)
        (root / "logs").mkdir()
        # As a user would: the setup command's files, on the system's speechd.conf.
        from streamtts.speechd.setup import install, module_line, write_module_config

        module_file = write_module_config(conf)
        install(conf, module_line(module_file), default=True)
        with module_file.open("a") as settings:  # as a user edits it
            settings.write(module_conf)
        with (conf / "speechd.conf").open("a") as extra:
            extra.write(f'LogDir "{root / "logs"}"\nAudioOutputMethod "pulse"\n')
        self.socket = str(root / "speechd.sock")
        self.env = {**os.environ, "SPEECHD_ADDRESS": f"unix_socket:{self.socket}"}
        self.process = subprocess.Popen(
            ["speech-dispatcher", "-s", "-t", "0", "-C", str(conf), "-c", "unix_socket",
             "-S", self.socket, "-P", str(root / "pid"), "-L", str(root / "logs")],
            env={**os.environ, **(module_env or {})},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not Path(self.socket).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Path(self.socket).exists(), "speech-dispatcher did not start"

    def say(self, *args: str) -> None:
        subprocess.run(["spd-say", *args], env=self.env, timeout=60, check=True)

    def client(self):  # type: ignore[no-untyped-def]
        sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's python3-speechd
        import speechd

        return speechd, speechd.SSIPClient("streamtts-tests", socket_path=self.socket)

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def dispatcher(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Dispatcher]:
    if shutil.which("speech-dispatcher") is None or shutil.which("spd-say") is None:
        pytest.skip("Debian's speech-dispatcher is not installed (scripts/install --test does)")
    if not has_sound():
        pytest.skip("needs a sound server")
    voices = make_slow_voice(tmp_path_factory.mktemp("voices"))
    running = Dispatcher(
        tmp_path_factory.mktemp("speechd"), module_conf=f'StreamttsVoiceDir "{voices}"\n'
    )
    running.say("-w", "Warm up.")  # the module loads at the first message
    yield running
    running.close()


def record(work, seconds_after: float = 0.5):  # type: ignore[no-untyped-def]
    """Run ``work(recorder)`` while the monitor is recorded (so it can wait
    on what is heard, never on the clock: a busy machine starts later)."""
    import sounddevice as sd

    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])
    with MonitorRecorder(sd, MONITOR, rate) as recorder:
        result = work(recorder)
        time.sleep(seconds_after)
    return recorder, rate, result


def audible_span(recorder: MonitorRecorder) -> tuple[float, float]:
    audio = recorder.audio
    loud = np.flatnonzero(np.abs(audio) > AUDIBLE)
    assert loud.size, "nothing was heard at the monitor"
    return recorder.time_of(int(loud[0])), recorder.time_of(int(loud[-1]))


def sound_after_pauses(recorder: MonitorRecorder, rate: int, pause_s: float = 0.1) -> list[float]:
    """When sound resumes after each pause inside the speech (10 ms windows)."""
    audio = recorder.audio
    window = rate // 100
    windows = np.abs(audio[: audio.size // window * window]).reshape(-1, window)
    loud = windows.max(axis=1) > AUDIBLE
    onsets, quiet, started = [], 0, False
    for k, is_loud in enumerate(loud):
        if is_loud:
            if started and quiet * 0.01 >= pause_s:
                block = np.abs(audio[k * window : (k + 1) * window]) > AUDIBLE
                onsets.append(recorder.time_of(k * window + int(np.argmax(block))))
            started, quiet = True, 0
        else:
            quiet += 1
    return onsets


def transcribe(whisper, recorder: MonitorRecorder, rate: int) -> str:  # type: ignore[no-untyped-def]
    audio16 = soxr.resample(recorder.audio, rate, 16000).astype(np.float32)
    segments, _ = whisper.transcribe(audio16, language="en", beam_size=1)
    return " ".join(s.text for s in segments).lower()


def test_spd_say_is_heard(dispatcher: Dispatcher, whisper) -> None:  # type: ignore[no-untyped-def]
    recorder, rate, _ = record(lambda _: dispatcher.say("-w", "The quick brown fox jumps."))
    start, end = audible_span(recorder)
    assert end - start > 0.8
    heard = transcribe(whisper, recorder, rate)
    for word in ("quick", "brown", "fox"):
        assert word in heard, heard


def test_a_client_chooses_the_voice_by_name_or_language(dispatcher: Dispatcher) -> None:
    """LIST VOICES offers the voice folder's voices too (named in the
    module's file, which speech-dispatcher hands it); ``spd-say -y`` (a
    name) and ``-l`` (a language the session's voice does not speak) switch
    to one, heard at its own pace; a message asking nothing is back on the
    session's voice."""
    listed = subprocess.run(
        ["spd-say", "-L"], env=dispatcher.env, capture_output=True, text=True, timeout=60
    ).stdout
    assert "en_US-joe-medium" in listed and SLOW in listed, listed

    def heard_for(*args: str) -> float:
        recorder, _, _ = record(lambda _: dispatcher.say("-w", *args, "Open the file."))
        start, end = audible_span(recorder)
        return end - start

    home = heard_for()
    by_name = heard_for("-y", SLOW)
    by_language = heard_for("-l", "en-GB")
    back = heard_for()
    print(f"\nheard: {home:.2f} s, by name {by_name:.2f} s, by language {by_language:.2f} s, "
          f"then {back:.2f} s")  # fmt: skip
    assert by_name > 1.6 * home and by_language > 1.6 * home  # the slow voice spoke
    assert back < 1.25 * home


def test_ssml_marks_reach_the_client_in_order_when_heard(dispatcher: Dispatcher) -> None:
    speechd, client = dispatcher.client()
    marks: list[tuple[str, float]] = []
    done = []

    def callback(kind, index_mark=None):  # type: ignore[no-untyped-def]
        if kind == speechd.CallbackType.INDEX_MARK:
            marks.append((index_mark, time.perf_counter()))
        elif kind == speechd.CallbackType.END:
            done.append(time.perf_counter())

    try:
        client.set_data_mode(speechd.DataMode.SSML)

        def speak(_: MonitorRecorder) -> None:
            client.speak(
                '<speak>First words here, <mark name="one"/>then the middle part, '
                '<mark name="two"/>and the end.</speak>',
                callback=callback,
                event_types=(speechd.CallbackType.INDEX_MARK, speechd.CallbackType.END),
            )
            deadline = time.monotonic() + 20
            while not done and time.monotonic() < deadline:
                time.sleep(0.02)

        recorder, rate, _ = record(speak)
    finally:
        client.close()
    assert [name for name, _ in marks] == ["one", "two"] and done
    _, end = audible_span(recorder)
    # Heard, not computed: "one" comes with the first sound after the pause
    # at "here," (the word after the mark), "two" after the next pause, the
    # end after the last sound.
    onsets = sound_after_pauses(recorder, rate)
    gaps = [round(1000 * (o - m[1])) for o, m in zip(onsets, marks, strict=False)]
    print(f"\nsound resuming after the pauses minus mark times: {gaps} ms")
    assert len(onsets) >= 2
    for onset, (_, heard_at) in zip(onsets, marks, strict=False):
        assert -0.06 < onset - heard_at < 0.12
    assert done[0] >= end - 0.1


def test_pause_stops_at_a_sentence_end_and_resume_goes_on(dispatcher: Dispatcher, whisper) -> None:  # type: ignore[no-untyped-def]
    """PAUSE: speech-dispatcher marks each sentence end; the module stops at
    the next one, reports 704, and RESUME says the rest, not the start again."""
    speechd, client = dispatcher.client()
    events: list[tuple[object, float]] = []
    kinds = speechd.CallbackType
    asked: dict[str, float] = {}

    def callback(kind, index_mark=None):  # type: ignore[no-untyped-def]
        events.append((kind, time.perf_counter()))

    def wait_for(kind: object, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(k == kind for k, _ in events) and time.monotonic() < deadline:
            time.sleep(0.02)

    def speak(recorder: MonitorRecorder) -> None:
        asked["speak"] = time.perf_counter()
        client.speak(
            "The first sentence is said in full. Then a second one follows it. "
            "And a third sentence closes the message.",
            callback=callback,
            event_types=(kinds.PAUSE, kinds.RESUME, kinds.END),
        )
        # Paused once the first sentence is heard (however late a busy
        # machine starts it), well inside it: it lasts about two seconds.
        heard = recorder.wait_sound(asked["speak"], AUDIBLE)
        time.sleep(max(0.0, heard + 0.4 - time.perf_counter()))
        asked["pause"] = time.perf_counter()
        client.pause()
        wait_for(kinds.PAUSE)
        time.sleep(1.0)  # a second of silence to hear: paused, not played through
        asked["resume"] = time.perf_counter()
        client.resume()
        wait_for(kinds.END)

    try:
        recorder, rate, _ = record(speak)
    finally:
        client.close()
    happened = [kind for kind, _ in events]
    assert kinds.PAUSE in happened and happened[-1] == kinds.END, happened
    paused = next(t for kind, t in events if kind == kinds.PAUSE)
    assert asked["pause"] < paused < asked["resume"]
    # Silent from the end of the first sentence until the resume, sound after it.
    window = rate // 100
    loud = np.abs(recorder.audio) > AUDIBLE
    windows = loud.size // window
    times = np.array([recorder.time_of(k * window) for k in range(windows)])
    loud_at = loud[: windows * window].reshape(windows, window).any(axis=1)
    sounding = times[loud_at]
    pause_gap = sounding[(sounding > asked["pause"]) & (sounding < asked["resume"] + 1.0)]
    stopped = pause_gap[pause_gap < asked["resume"]].max()
    print(
        f"\npaused {1000 * (stopped - asked['pause']):.0f} ms after PAUSE, "
        f"silent {1000 * (asked['resume'] - stopped):.0f} ms until RESUME"
    )
    assert stopped - asked["pause"] < 2.0  # the rest of the first sentence at most
    assert asked["resume"] - stopped > 0.5  # then silence: paused, not played through
    assert np.any(sounding > asked["resume"])
    heard = transcribe(whisper, recorder, rate)
    print(heard)
    assert heard.count("first") == 1 and "second" in heard and "third" in heard, heard


def test_cancel_silences_the_monitor_fast(dispatcher: Dispatcher) -> None:
    long_text = "This sentence goes on and on, so that it is still speaking when cancelled. " * 4
    asked: list[float] = []

    def speak_then_cancel(recorder: MonitorRecorder) -> None:
        said = time.perf_counter()
        dispatcher.say(long_text)
        heard = recorder.wait_sound(said, AUDIBLE)  # cancelled while it is speaking
        time.sleep(max(0.0, heard + 0.5 - time.perf_counter()))
        asked.append(time.perf_counter())
        dispatcher.say("-C")

    recorder, _, _ = record(speak_then_cancel, seconds_after=1.0)
    _, last_sound = audible_span(recorder)
    gap = last_sound - asked[0]
    print(f"\nspd-say -C → silence at the monitor: {1000 * gap:.0f} ms")
    # 20 ms + the server's output latency (its 40 ms PulseAudio buffer, set by
    # the setup: measured 41-47 ms in all): what the module sent ahead (0.15 s
    # at most) is dropped, never played.
    assert gap < 0.1


def test_the_server_keeps_answering_while_a_long_text_plays(dispatcher: Dispatcher) -> None:
    """The module sends its audio at the pace it plays: sent all at once,
    speech-dispatcher's reader blocked on its full play queue and answered
    no client (seen: five `spd-say -L` in a row unanswered for 10 s each)."""
    import sounddevice as sd

    long_text = "This long sentence keeps going so that it is still speaking later. " * 8
    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])
    with MonitorRecorder(sd, MONITOR, rate) as recorder:
        said = time.perf_counter()
        dispatcher.say(long_text)
        recorder.wait_sound(said, AUDIBLE)  # it is playing: the server's queue is in use
    try:
        for _ in range(3):
            time.sleep(0.8)  # spaced out over the playing
            started = time.perf_counter()
            listed = subprocess.run(
                ["spd-say", "-L"], env=dispatcher.env, capture_output=True, text=True, timeout=5
            )
            assert "en_US-joe-medium" in listed.stdout
            assert time.perf_counter() - started < 1.0
    finally:
        dispatcher.say("-C")


def test_the_module_can_play_on_the_sound_card_itself(tmp_path: Path) -> None:
    """STREAMTTS_SPEECHD_OUTPUT=device: the module plays through PortAudio
    instead of handing its audio to speech-dispatcher; heard, and stopped."""
    if shutil.which("speech-dispatcher") is None or not has_sound():
        pytest.skip("needs Debian's speech-dispatcher and a sound server")
    own = Dispatcher(
        tmp_path, {"STREAMTTS_SPEECHD_OUTPUT": "device", "STREAMTTS_SPEECHD_LATENCY": "0.05"}
    )
    import sounddevice as sd

    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])
    try:
        own.say("-w", "Warm up.")
        asked: list[float] = []
        with MonitorRecorder(sd, MONITOR, rate) as recorder:
            own.say("This sentence is long enough to be cancelled while it is still speaking.")
            # Cancelled once heard (a busy machine starts later), well inside the sentence.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not np.any(np.abs(recorder.audio) > AUDIBLE):
                time.sleep(0.05)
            time.sleep(0.4)
            asked.append(time.perf_counter())
            own.say("-C")
            time.sleep(1.0)
    finally:
        own.close()
    start, end = audible_span(recorder)
    print(f"\ndevice output: heard {asked[0] - start:.2f} s before the cancel, "
          f"silent {1000 * (end - asked[0]):.0f} ms after it")  # fmt: skip
    assert start < asked[0] - 0.2  # it spoke
    assert end - asked[0] < 0.35  # 20 ms + the 50 ms device buffer + the ALSA-to-Pulse path


def test_typing_echo_burst_leaves_only_the_last(dispatcher: Dispatcher, whisper) -> None:  # type: ignore[no-untyped-def]
    _, client = dispatcher.client()
    words = [f"item {n}" for n in range(29)] + ["Good morning, everyone."]
    try:

        def burst(recorder: MonitorRecorder) -> None:
            for word in words:
                client.cancel()
                client.speak(word)
                time.sleep(0.01)  # as fast as a typist's echo
            recorder.wait_sound(time.perf_counter(), AUDIBLE)
            recorder.wait_quiet(0.7, AUDIBLE)  # the last word said, then silence

        recorder, rate, _ = record(burst)
    finally:
        client.close()
    heard = transcribe(whisper, recorder, rate)
    assert "morning" in heard, heard
    start, end = audible_span(recorder)
    # At most a few stale sounds before the last word began, never a tail after.
    tail = heard.split("morning")[-1]
    assert "item" not in tail, heard
    assert end - start < 4.0, (start, end)


def test_the_pitch_setting_moves_the_pitch_heard(dispatcher: Dispatcher) -> None:
    speechd, client = dispatcher.client()
    heard: dict[int, float] = {}
    try:
        for pitch in (0, 80):
            client.set_pitch(pitch)
            done: list[int] = []

            def speak(_: MonitorRecorder, done: list[int] = done) -> None:
                client.speak("The quick brown fox jumps over the lazy dog.",
                             callback=lambda kind, **_: done.append(1),
                             event_types=(speechd.CallbackType.END,))  # fmt: skip
                deadline = time.monotonic() + 20
                while not done and time.monotonic() < deadline:
                    time.sleep(0.02)

            recorder, rate, _ = record(speak, seconds_after=0.3)
            heard[pitch] = median_pitch_hz(recorder.audio, rate)
        client.set_pitch(0)
    finally:
        client.close()
    print(f"\nmedian pitch heard: {heard[0]:.0f} Hz, at pitch 80: {heard[80]:.0f} Hz")
    # 80 of 100: 4.8 semitones up, a factor of 1.32.
    assert heard[80] / heard[0] == pytest.approx(2 ** (4.8 / 12), rel=0.08)


def test_reading_modes_change_what_is_said(dispatcher: Dispatcher) -> None:
    speechd, client = dispatcher.client()
    durations = {}
    try:
        for name, setup in (
            ("plain", lambda: None),
            ("spelling", lambda: client.set_spelling(True)),
        ):
            setup()
            done: list[float] = []

            def speak(_: MonitorRecorder, done: list[float] = done) -> None:
                client.speak("Hi, Bob.", callback=lambda kind, **_: done.append(1),
                             event_types=(speechd.CallbackType.END,))  # fmt: skip
                deadline = time.monotonic() + 20
                while not done and time.monotonic() < deadline:
                    time.sleep(0.02)

            recorder, _, _ = record(speak, seconds_after=0.3)
            start, end = audible_span(recorder)
            durations[name] = end - start
        client.set_spelling(False)
    finally:
        client.close()
    # Spelled: "cap h, i, comma, space, cap b, o, b, dot" takes far longer.
    assert durations["spelling"] > 2 * durations["plain"], durations
