"""``streamtts serve`` with the clients users have: the ``wyoming`` package's
asyncio client (as Home Assistant uses it), the ``openai`` SDK, ``httpx`` and
``websockets``. The server is a real process on loopback; every loop is
bounded in count and time."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import soxr

from streamtts import PiperVoice, SynthesisOptions, Synthesizer

TOKEN = "test-token-123"
SEED = 7
MAX_STREAMS = 3
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
TEXT = "Hello from the server. It streams inside a sentence, exactly."
LONG = " ".join(["This sentence is one of many in a long text, read at an even pace."] * 30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    http: str
    wyoming_port: int
    unix_path: str

    def health(self) -> dict[str, float]:
        return httpx.get(f"{self.http}/healthz", timeout=10).json()  # type: ignore[no-any-return]


def start_server(tmp: Path, *extra: str) -> Server:
    http_port, wyoming_port = free_port(), free_port()
    unix_path = str(tmp / "wyoming.sock")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamtts", "serve",
            "--port", str(http_port),
            "--wyoming", f"tcp://127.0.0.1:{wyoming_port}",
            "--wyoming", f"unix://{unix_path}",
            "--token", TOKEN,
            "--seed", str(SEED),
            "--max-streams", str(MAX_STREAMS),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().decode()  # the one "serving ... at ..." line
    assert line.startswith("streamtts: serving"), (line, process.stderr.read().decode()[-2000:])
    assert f"tcp://127.0.0.1:{wyoming_port} (wyoming)" in line
    return Server(process, f"http://127.0.0.1:{http_port}", wyoming_port, unix_path)


def stop_server(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=30)
    finally:
        server.process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"), "--idle-timeout", "3")
    yield running
    assert stop_server(running) == 0


@pytest.fixture(scope="module")
def reference(voice: PiperVoice) -> dict[str, np.ndarray]:
    """What ``streamtts speak --seed 7`` makes (the plain path; the CLI
    equals it, see test_cli), as s16 samples at the voice's rate."""

    def render(text: str) -> np.ndarray:
        chunks = Synthesizer(voice, SynthesisOptions(seed=SEED)).speak([text])
        audio = np.concatenate([c.samples for c in chunks])
        return np.rint(np.clip(audio, -1, 1) * 32767).astype(np.int16)

    return {TEXT: render(TEXT)}


def same_audio(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= 1


def run_asyncio(coroutine_function, *args):  # type: ignore[no-untyped-def]
    """The asyncio clients run in their own loop, as their users run them."""
    return asyncio.run(asyncio.wait_for(coroutine_function(*args), timeout=60))


# -- Wyoming ----------------------------------------------------------------------------


async def wyoming_session(client, events):  # type: ignore[no-untyped-def]
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.tts import SynthesizeStopped

    received = []
    async with client:
        for event in events:
            await client.write_event(event.event())
        streaming = any(type(e).__name__ == "SynthesizeStop" for e in events)
        while True:
            event = await client.read_event()
            assert event is not None, "the server closed the connection"
            received.append(event)
            if event.type == "error":
                break
            if streaming and SynthesizeStopped.is_type(event.type):
                break
            if not streaming and AudioStop.is_type(event.type):
                break
    kinds = [e.type for e in received]
    audio = [e for e in received if AudioChunk.is_type(e.type)]
    start = [AudioStart.from_event(e) for e in received if AudioStart.is_type(e.type)]
    return kinds, audio, start


def test_wyoming_describe_advertises_streaming(server: Server) -> None:
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    async def ask():  # type: ignore[no-untyped-def]
        async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as client:
            await client.write_event(Describe().event())
            return Info.from_event(await client.read_event())

    info = run_asyncio(ask)
    program = info.tts[0]
    assert program.name == "streamtts" and program.installed
    assert program.supports_synthesize_streaming is True
    assert [v.name for v in program.voices] == ["en_US-joe-medium"]
    assert program.voices[0].languages == ["en_US"]


def test_wyoming_synthesize_equals_the_command_line(
    server: Server, tmp_path: Path, cache_dir: Path
) -> None:
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize

    cli = subprocess.run(
        [sys.executable, "-m", "streamtts", "speak", "--seed", str(SEED), "--out", "-",
         "--format", "raw", TEXT],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr.decode()
    client = AsyncTcpClient("127.0.0.1", server.wyoming_port)
    kinds, audio, start = run_asyncio(wyoming_session, client, [Synthesize(TEXT)])
    assert kinds[0] == "audio-start" and kinds[-1] == "audio-stop"
    assert (start[0].rate, start[0].width, start[0].channels) == (22050, 2, 1)
    got = np.frombuffer(b"".join(e.payload for e in audio), "<i2")
    same_audio(got, np.frombuffer(cli.stdout, "<i2"))
    # Audio comes chunk by chunk as decoded: the first is the small first
    # chunk (8 frames of 256 samples), not a sentence.
    assert len(audio[0].payload) == 8 * 256 * 2 and len(audio) > 4


def test_wyoming_streaming_ignores_the_compatibility_synthesize(
    server: Server, reference: dict[str, np.ndarray]
) -> None:
    from wyoming.client import AsyncUnixClient
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

    pieces = ["Hello from ", "the server. It ", "streams inside a sen", "tence, exactly."]
    events = [SynthesizeStart(), *[SynthesizeChunk(p) for p in pieces]]
    events += [Synthesize(TEXT), SynthesizeStop()]  # what Home Assistant sends
    client = AsyncUnixClient(server.unix_path)
    kinds, audio, _ = run_asyncio(wyoming_session, client, events)
    assert kinds[0] == "audio-start"
    assert kinds[-2:] == ["audio-stop", "synthesize-stopped"]
    assert kinds.count("audio-start") == 1  # the whole text once, not twice
    got = np.frombuffer(b"".join(e.payload for e in audio), "<i2")
    same_audio(got, reference[TEXT])


# -- HTTP -------------------------------------------------------------------------------


def openai_client(server: Server):  # type: ignore[no-untyped-def]
    from openai import OpenAI

    return OpenAI(base_url=f"{server.http}/v1", api_key=TOKEN, max_retries=0, timeout=60)


def test_openai_sdk_streams_pcm_at_24_khz_to_a_file(
    server: Server, tmp_path: Path, reference: dict[str, np.ndarray]
) -> None:
    client = openai_client(server)
    target = tmp_path / "speech.pcm"
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        response.stream_to_file(target)
    got = np.frombuffer(target.read_bytes(), "<i2").astype(np.float32) / 32767
    want = soxr.resample(reference[TEXT].astype(np.float32) / 32767, 22050, 24000)
    assert abs(got.size - want.size) <= 24  # the same length at 24 kHz
    n = min(got.size, want.size)
    correlation = np.dot(got[:n], want[:n]) / np.sqrt(
        np.dot(got[:n], got[:n]) * np.dot(want[:n], want[:n])
    )
    assert correlation >= 0.999, correlation


def test_openai_sdk_wav_and_models(server: Server) -> None:
    client = openai_client(server)
    wav = client.audio.speech.create(
        model="tts-1", voice="nova", input="Short.", response_format="wav"
    )
    data = wav.read()
    assert data[:4] == b"RIFF" and data[24:28] == (24000).to_bytes(4, "little")
    assert [m.id for m in client.models.list()] == ["streamtts"]


def test_httpx_gets_first_audio_long_before_the_end(server: Server) -> None:
    with httpx.stream(
        "POST", f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
        json={"model": "tts-1", "voice": "alloy", "input": LONG[:3000], "response_format": "pcm"},
    ) as response:  # fmt: skip
        assert response.status_code == 200
        first_at = None
        sizes = []
        for block in response.iter_bytes():
            if block and first_at is None:
                first_at = time.perf_counter()
            sizes.append(len(block))
        end_at = time.perf_counter()
    total = sum(sizes)
    assert total / 2 / 24000 > 60  # over a minute of audio
    assert first_at is not None
    # The first bytes came while nearly all of the audio was still to be made.
    assert sizes[0] < total / 50 and end_at - first_at > 1.0


def test_sse_deltas_then_done(server: Server, reference: dict[str, np.ndarray]) -> None:
    response = httpx.post(
        f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
        json={"input": TEXT, "voice": "alloy", "response_format": "pcm", "stream_format": "sse"},
    )  # fmt: skip
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert {e["type"] for e in events[:-1]} == {"speech.audio.delta"}
    assert events[-1]["type"] == "speech.audio.done"
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert abs(len(pcm) / 2 - reference[TEXT].size * 24000 / 22050) <= 24
    assert events[-1]["usage"]["audio_seconds"] == pytest.approx(len(pcm) / 2 / 24000, abs=1e-3)


# -- WebSocket --------------------------------------------------------------------------


async def websocket_barge_in(url: str) -> tuple[list[dict[str, object]], int, dict[str, object]]:
    import websockets

    async with websockets.connect(url, additional_headers=HEADERS) as ws:
        ready = json.loads(await ws.recv())
        for token in [
            "The quick ",
            "brown fox ",
            "jumps over ",
            "the lazy dog, and ",
            "runs ",
            "far ",
            "away.",
        ]:
            await ws.send(json.dumps({"type": "text", "text": token}))
        events: list[dict[str, object]] = []
        audio = 0
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                audio += len(message)
                if audio >= 22050 and not any(e["type"] == "interrupted" for e in events):
                    await ws.send(json.dumps({"type": "interrupt"}))  # mid-sentence
                continue
            events.append(json.loads(message))
            if events[-1]["type"] in ("interrupted", "done", "error"):
                break
        # The socket stays usable: the next text is a new utterance.
        await ws.send(json.dumps({"type": "text", "text": "Next one."}))
        await ws.send(json.dumps({"type": "end"}))
        while True:
            message = await ws.recv()
            if isinstance(message, str) and json.loads(message)["type"] in ("done", "error"):
                return events, audio, json.loads(message) | {"ready": ready}


def test_websocket_tokens_events_and_interrupt(server: Server) -> None:
    url = server.http.replace("http", "ws") + "/v1/stream"
    events, audio, after = run_asyncio(websocket_barge_in, url)
    assert after["type"] == "done" and after["ready"]["sample_rate_hz"] == 22050
    words = [e for e in events if e["type"] == "word"]
    assert events[0]["type"] == "segment" and events[0]["sample"] == 0
    assert [w["word"] for w in words][:3] == ["The", "quick", "brown"]
    samples = [w["sample"] for w in words]
    assert samples == sorted(samples) and all(s < audio / 2 for s in samples)
    assert events[-1]["type"] == "interrupted"
    # Cut mid-sentence: far less than the ~3 s the whole sentence takes.
    assert audio / 2 / 22050 < 2.5


# -- word timings over HTTP (Kokoro-FastAPI's captioned speech) ---------------------------

CAPTIONED = (
    "Captions need the time of every word. The river ran past the old mill, "
    "and the children counted boats until the evening came. Then everyone went home."
)


def captioned_lines(server: Server, text: str, **extra: object) -> tuple[list[dict], list[float]]:  # type: ignore[type-arg]
    """Each NDJSON line of a streamed captioned-speech response, and when it arrived."""
    lines, arrived = [], []
    body = {"input": text, "voice": "alloy", "response_format": "pcm", **extra}
    with httpx.stream(
        "POST", f"{server.http}/dev/captioned_speech", headers=HEADERS, json=body, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/x-ndjson"
        for line in response.iter_lines():
            if line:
                lines.append(json.loads(line))
                arrived.append(time.monotonic())
    return lines, arrived


def test_captioned_speech_streams_lines_with_the_speech_endpoints_audio(server: Server) -> None:
    lines, arrived = captioned_lines(server, CAPTIONED)
    assert len(lines) > 5 and all(line["audio_format"] == "audio/pcm" for line in lines)
    # Line by line as it is made: the first long before the last.
    assert arrived[-1] - arrived[0] > 0.3
    audio = b"".join(base64.b64decode(line["audio"]) for line in lines)
    speech = httpx.post(
        f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
        json={"input": CAPTIONED, "voice": "alloy", "response_format": "pcm"},
    )  # fmt: skip
    assert audio == speech.content  # the same seed: the same samples
    words = [t["word"] for line in lines for t in line["timestamps"]]
    assert " ".join(words).split() == [w.strip(".,") for w in CAPTIONED.split()]
    times = [(t["start_time"], t["end_time"]) for line in lines for t in line["timestamps"]]
    assert all(start <= end for start, end in times)
    assert [start for start, _ in times] == sorted(start for start, _ in times)
    assert times[-1][1] <= len(audio) / 2 / 24000


def test_captioned_speech_whole_and_refusals(server: Server) -> None:
    whole = httpx.post(
        f"{server.http}/dev/captioned_speech", headers=HEADERS, timeout=60,
        json={"input": "Hello there.", "stream": False, "response_format": "wav"},
    )  # fmt: skip
    body = whole.json()
    assert body["audio_format"] == "audio/wav" and [t["word"] for t in body["timestamps"]] == [
        "Hello",
        "there",
    ]
    assert base64.b64decode(body["audio"])[:4] == b"RIFF"
    bad = httpx.post(
        f"{server.http}/dev/captioned_speech",
        headers=HEADERS,
        json={"input": "x", "stream": "yes"},
        timeout=30,
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "stream"
    voices = httpx.get(f"{server.http}/v1/audio/voices", headers=HEADERS, timeout=30).json()
    assert voices["voices"][0]["id"] == voices["voices"][0]["name"] == "en_US-joe-medium"


def test_captioned_word_times_are_where_whisper_hears_the_words(server: Server, whisper) -> None:  # type: ignore[no-untyped-def]
    """Each word's start against Whisper's word timestamps on the returned
    audio: the median within 60 ms, as the word-events tests measure."""
    import difflib
    import statistics

    lines, _ = captioned_lines(server, CAPTIONED)
    audio = np.frombuffer(b"".join(base64.b64decode(line["audio"]) for line in lines), "<i2")
    ours = [(t["word"], t["start_time"]) for line in lines for t in line["timestamps"]]
    lead_s = 0.5
    audio16 = soxr.resample(audio.astype(np.float32) / 32768, 24000, 16000).astype(np.float32)
    audio16 = np.concatenate([np.zeros(int(lead_s * 16000), np.float32), audio16])
    segments, _ = whisper.transcribe(audio16, language="en", beam_size=1, word_timestamps=True)
    heard = [(w.word, w.start - lead_s) for segment in segments for w in segment.words]

    def normal(word: str) -> str:
        return "".join(c for c in word.lower() if c.isalnum())

    mine = [(normal(w), at) for word, at in ours for w in word.split()[:1]]  # an event's first word
    matcher = difflib.SequenceMatcher(
        a=[w for w, _ in mine], b=[normal(w) for w, _ in heard], autojunk=False
    )
    errors = [
        abs(mine[block.a + k][1] - heard[block.b + k][1])
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
        if block.b + k > 0  # Whisper pins a clip's first word to its start
    ]
    assert len(errors) >= 15, (mine, heard)
    print(
        f"\ncaptioned words vs Whisper: median {1000 * statistics.median(errors):.0f} ms over {len(errors)}"
    )
    assert statistics.median(errors) <= 0.060, statistics.median(errors)


# -- limits, abuse and capacity ---------------------------------------------------------


HTTP_ABUSE = [
    # (what, method, path, headers, body, status, text in the error)
    ("no token", "POST", "/v1/audio/speech", {}, b'{"input": "x"}', 401, "bearer token"),
    ("wrong token", "GET", "/v1/models", {"Authorization": "Bearer nope"}, None, 401, "token"),
    ("not JSON", "POST", "/v1/audio/speech", HEADERS, b"{nope", 400, "not JSON"),
    ("JSON list", "POST", "/v1/audio/speech", HEADERS, b"[1, 2]", 400, "JSON object"),
    ("no input", "POST", "/v1/audio/speech", HEADERS, b'{"voice": "alloy"}', 400, "'input'"),
    ("mp3", "POST", "/v1/audio/speech", HEADERS, b'{"input": "x", "response_format": "mp3"}', 400, "mp3"),
    ("speed 9", "POST", "/v1/audio/speech", HEADERS, b'{"input": "x", "speed": 9}', 400, "speed"),
    ("voice", "POST", "/v1/audio/speech", HEADERS, b'{"input": "x", "voice": "zed"}', 400, "unknown voice"),
    ("long input", "POST", "/v1/audio/speech", HEADERS, json.dumps({"input": "a " * 3000}).encode(), 400, "limit"),
    ("huge body", "POST", "/v1/audio/speech", HEADERS, b"{" + b" " * 100_000 + b"}", 413, "over"),
    ("GET speech", "GET", "/v1/audio/speech", HEADERS, None, 405, ""),
]  # fmt: skip


@pytest.mark.parametrize("case", HTTP_ABUSE, ids=[c[0] for c in HTTP_ABUSE])
def test_bad_http_requests_get_openai_errors(server: Server, case: tuple) -> None:  # type: ignore[type-arg]
    _, method, path, headers, body, status, text = case
    response = httpx.request(method, server.http + path, headers=headers, content=body, timeout=30)
    assert response.status_code == status, response.text
    if status != 405:
        error = response.json()["error"]
        assert text in error["message"] and error["type"] == "invalid_request_error"


def wyoming_raw(port: int, data: bytes, wait_s: float = 5.0) -> list[object]:
    """Send raw bytes; the events the server answers (read by the ``wyoming``
    package's own reader) until it closes or goes quiet."""
    from wyoming.event import read_event

    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        events = []
        with sock.makefile("rb") as reader:
            try:
                while (event := read_event(reader)) is not None:
                    events.append(event)
                    if event.type in ("error", "info", "audio-stop"):
                        break
            except OSError:
                pass
    return events


WYOMING_ABUSE = [
    ("not JSON", b"nope\n", "header is not JSON"),
    ("no type", b'{"data": {}}\n', '"type"'),
    ("lying length", b'{"type": "synthesize", "data_length": 9999999}\n', "over the limit"),
    ("negative length", b'{"type": "synthesize", "payload_length": -5}\n', "non-negative"),
    ("unknown event", b'{"type": "launch-rockets"}\n', "unknown event type"),
    ("chunk outside stream", b'{"type": "synthesize-chunk", "data": {"text": "x"}}\n', "outside a stream"),
    ("no text", b'{"type": "synthesize", "data": {"voice": {}}}\n', "needs a text"),
    ("endless header", b"{" + b" " * 70_000, "longer than"),
]  # fmt: skip


@pytest.mark.parametrize("case", WYOMING_ABUSE, ids=[c[0] for c in WYOMING_ABUSE])
def test_bad_wyoming_input_gets_an_error_event(server: Server, case: tuple) -> None:  # type: ignore[type-arg]
    _, data, text = case
    events = wyoming_raw(server.wyoming_port, data)
    errors = [e for e in events if e.type == "error"]  # type: ignore[attr-defined]
    assert errors and text in errors[0].data["text"], events  # type: ignore[attr-defined]
    assert describe_still_works(server)


def describe_still_works(server: Server) -> bool:
    events = wyoming_raw(server.wyoming_port, b'{"type": "describe"}\n', wait_s=5)
    return any(e.type == "info" for e in events)  # type: ignore[attr-defined]


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and when it closed."""
    sock.settimeout(limit_s)
    received = b""
    started = time.monotonic()
    try:
        while block := sock.recv(65536):
            received += block
    except OSError:
        pass
    return received, time.monotonic() - started


def test_slow_drips_and_silent_sockets_are_closed(server: Server) -> None:
    """A header dripping a byte at a time and a socket that says nothing are
    closed with an error (--idle-timeout 3 here); others are served meanwhile.
    The silent socket waits out its timeout while the other drips."""

    def silent() -> tuple[bytes, float]:
        with socket.create_connection(("127.0.0.1", server.wyoming_port), timeout=10) as sock:
            return read_until_closed(sock, 10)

    with ThreadPoolExecutor(1) as pool:
        quiet = pool.submit(silent)
        with socket.create_connection(("127.0.0.1", server.wyoming_port), timeout=10) as drip:
            started = time.monotonic()
            header = b'{"type": "describe"' + b" " * 100  # never finished
            cut_at = None
            for byte in header:  # a byte every 0.1 s: 12 s if never cut
                try:
                    drip.sendall(bytes([byte]))
                except OSError:
                    cut_at = time.monotonic() - started  # closed on us: what we wanted
                    break
                time.sleep(0.1)
            assert describe_still_works(server)
            rest, _ = read_until_closed(drip, 10)
        assert b"too slowly" in rest
        # Cut while still dripping, --idle-timeout (3 s) after the first byte.
        assert cut_at is not None and 2.5 < cut_at < 6, cut_at
        said, after_s = quiet.result(timeout=15)
    assert b"idle" in said and 2.5 < after_s < 6


async def idle_after_speaking(url: str) -> tuple[list[str], float]:
    """Speak, then say nothing: the socket is closed idle_s after the audio
    ended (not never: the last message came while it was speaking)."""
    import websockets

    async with websockets.connect(url, additional_headers=HEADERS) as ws:
        await ws.recv()  # ready
        await ws.send(json.dumps({"type": "text", "text": "Short and sweet."}))
        await ws.send(json.dumps({"type": "end"}))
        kinds: list[str] = []
        done_at = 0.0
        try:
            async for message in ws:
                if isinstance(message, str):
                    kinds.append(json.loads(message)["type"])
                    if kinds[-1] == "done":
                        done_at = time.monotonic()
        except websockets.ConnectionClosed:
            pass
        return kinds, time.monotonic() - done_at


def test_a_websocket_that_says_nothing_after_its_audio_is_closed(server: Server) -> None:
    url = server.http.replace("http", "ws") + "/v1/stream"
    kinds, after_done_s = run_asyncio(idle_after_speaking, url)
    assert kinds[-2:] == ["done", "error"], kinds  # the error says: closing, idle
    assert 2.5 < after_done_s < 6  # --idle-timeout 3 here


async def websocket_abuse(url: str) -> list[dict[str, object]]:
    import websockets

    async with websockets.connect(url, additional_headers=HEADERS) as ws:
        await ws.recv()  # ready
        replies = []
        for message in [
            "{nope",
            json.dumps({"type": "dance"}),
            json.dumps({"text": "x"}),
            b"\x00\x01",
        ]:
            await ws.send(message)
            replies.append(json.loads(await ws.recv()))
        await ws.send(json.dumps({"type": "text", "text": "Still here."}))
        await ws.send(json.dumps({"type": "end"}))
        while True:
            message = await ws.recv()
            if isinstance(message, str) and json.loads(message)["type"] == "done":
                replies.append(json.loads(message))
                return replies


def test_bad_websocket_messages_get_errors_and_the_socket_lives(server: Server) -> None:
    url = server.http.replace("http", "ws") + "/v1/stream"
    replies = run_asyncio(websocket_abuse, url)
    assert [r["type"] for r in replies] == ["error"] * 4 + ["done"]


async def websocket_without_token(url: str) -> int:
    import websockets

    try:
        async with websockets.connect(url) as ws:
            await ws.recv()
    except websockets.ConnectionClosed as closed:
        return int(closed.rcvd.code) if closed.rcvd else -1
    except websockets.InvalidStatus as refused:
        return int(refused.response.status_code)
    return 0


def test_websocket_needs_the_token(server: Server) -> None:
    url = server.http.replace("http", "ws") + "/v1/stream"
    assert run_asyncio(websocket_without_token, url) in (1008, 403)


def test_at_capacity_new_requests_are_refused_at_once(server: Server) -> None:
    """MAX_STREAMS long utterances in flight; the next request hears 503 with
    Retry-After (HTTP) or an error event (Wyoming) at once."""
    streams = []
    try:
        for _ in range(MAX_STREAMS):
            stream = httpx.stream(
                "POST", f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
                json={"input": LONG[:3000], "response_format": "pcm"},
            )  # fmt: skip
            response = stream.__enter__()
            assert response.status_code == 200
            chunks = response.iter_raw()
            next(chunks)  # it is speaking (and we read no more: it waits)
            streams.append((stream, chunks))
        started = time.monotonic()
        refused = httpx.post(
            f"{server.http}/v1/audio/speech",
            headers=HEADERS,
            json={"input": "One more."},
            timeout=30,
        )
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
        assert "capacity" in refused.json()["error"]["message"]
        events = wyoming_raw(
            server.wyoming_port, b'{"type": "synthesize", "data": {"text": "One more."}}\n'
        )
        assert events[-1].type == "error" and "capacity" in events[-1].data["text"]  # type: ignore[attr-defined]
        assert time.monotonic() - started < 5
        assert server.health()["active"] == MAX_STREAMS
    finally:
        for stream, _ in streams:
            stream.__exit__(None, None, None)
    deadline = time.monotonic() + 5
    while server.health()["active"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.health()["active"] == 0  # gone clients free their places


async def wyoming_burst(port: int, texts: list[str]) -> list[tuple[str, float, float]]:
    """Clients asking at the same instant (the wyoming package's client):
    per client, the last event's type, its text if an error, the seconds
    to the first reply and the seconds of audio received."""
    from wyoming.audio import AudioChunk, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize

    async def one(text: str) -> tuple[str, float, float]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            started = time.monotonic()
            await client.write_event(Synthesize(text).event())
            first, audio_s = None, 0.0
            while (event := await client.read_event()) is not None:
                first = first or time.monotonic() - started
                if event.type == "error":
                    return event.data["text"], first, audio_s
                if AudioChunk.is_type(event.type):
                    audio_s += AudioChunk.from_event(event).seconds
                if AudioStop.is_type(event.type):
                    return "audio-stop", first, audio_s
        return "closed", first or 0.0, audio_s

    return list(await asyncio.gather(*(one(t) for t in texts)))


def test_a_burst_at_the_same_instant_is_served_a_few_starts_at_a_time(
    tmp_path: Path,
) -> None:
    """Room for 8 streams, 2 starting at once: of 6 clients asking at the
    same instant, those past the starting limit hear at once why and when
    to retry; every admitted one gets its whole sentence; nothing is left
    starting after."""
    burst = start_server(tmp_path, "--max-streams", "8", "--max-starting", "2")
    try:
        texts = [f"Client number {k} asks for a sentence at the same instant." for k in range(6)]
        answers = run_asyncio(wyoming_burst, burst.wyoming_port, texts)
        refused = [a for a in answers if a[0] != "audio-stop"]
        served = [a for a in answers if a[0] == "audio-stop"]
        assert refused and served, answers
        for text, first_reply_s, _ in refused:
            assert "starting at this instant" in text and "retry in 1 s" in text, text
            assert first_reply_s < 5  # at once (not after the others' speech)
        assert all(audio_s > 2.0 for _, _, audio_s in served)  # whole sentences
        assert burst.health()["starting"] == 0 and burst.health()["active"] == 0
    finally:
        assert stop_server(burst) == 0


def test_a_client_that_stops_reading_pauses_its_synthesis(server: Server) -> None:
    """Unread audio fills the socket's buffers, then the session waits: its
    model calls stop well before the text's end (not buffering it all),
    and go on to the end once the client reads again."""
    with httpx.stream(
        "POST", f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
        json={"input": LONG[:3000], "response_format": "pcm"},
    ) as response:  # fmt: skip
        chunks = response.iter_raw()
        total = len(next(chunks))
        paused_at = None
        calls, since = server.health()["model_calls"], time.monotonic()
        deadline = since + 20
        while paused_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
            now = server.health()["model_calls"]
            if now != calls:
                calls, since = now, time.monotonic()
            elif time.monotonic() - since >= 1.0:  # no model call for a second
                paused_at = calls
        assert paused_at is not None, "synthesis never paused for the unread socket"
        total += sum(len(b) for b in chunks)
    assert total / 2 / 24000 > 60  # and it resumed to the end
    after = server.health()["model_calls"]
    assert after - paused_at > 50  # it had most of the text still to make when it paused


def test_a_client_that_disconnects_cancels_its_work(server: Server) -> None:
    stream = httpx.stream(
        "POST", f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
        json={"input": LONG[:3000], "response_format": "pcm"},
    )  # fmt: skip
    response = stream.__enter__()
    chunks = response.iter_raw()
    next(chunks)
    assert server.health()["active"] == 1
    stream.__exit__(None, None, None)
    gone = time.monotonic()
    while server.health()["active"] and time.monotonic() - gone < 5:
        pass
    elapsed = time.monotonic() - gone
    assert server.health()["active"] == 0
    print(f"\ndisconnect → session gone in {1000 * elapsed:.0f} ms (polled over HTTP)")
    assert elapsed < 0.5


def settled_health(server: Server) -> dict[str, float]:
    """Health once closed HTTP connections are reaped (hypercorn keeps each
    one's task for its 2 s keep-alive, the health request's own included)."""
    time.sleep(2.5)
    return server.health()


def test_500_connections_dropped_anywhere_leave_nothing_behind(server: Server) -> None:
    rng = random.Random(500)
    base = settled_health(server)
    requests = [
        b'{"type": "describe"}\n',
        b'{"type": "synthesize", "data": {"text": "Dropped at once."}}\n',
        b'{"type": "synthesize-start"}\n{"type": "synthesize-chunk", "data": {"text": "Half a sen',
        b'{"type": "synth',
    ]
    http_requests = [
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
        + b'{"input": "Dropped right away, really."}',
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /v1/audio/speech HTTP/1.1\r\nContent-Length: 999\r\n\r\n{",
    ]  # fmt: skip
    http_port = int(server.http.rsplit(":", 1)[1])
    started = time.monotonic()
    for _ in range(500):
        if time.monotonic() - started > 120:
            break
        wyoming = rng.random() < 0.5
        port = server.wyoming_port if wyoming else http_port
        data = rng.choice(requests if wyoming else http_requests)
        cut = rng.randrange(len(data) + 1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data[:cut])
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0, 0.05))  # sometimes mid-synthesis
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = settled_health(server)
        if now["active"] == 0 and now["connections"] <= base["connections"]:
            break
    assert now["active"] == 0 and now["connections"] == base["connections"], now
    assert now["tasks"] <= base["tasks"] + 2, (base, now)
    assert now["threads"] <= base["threads"] + 4, (base, now)  # trio's cached workers
    assert now["rss_mb"] < base["rss_mb"] + 60, (base, now)
    assert describe_still_works(server)


def test_the_client_examples_run(server: Server, tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    env = {
        **os.environ,
        "STREAMTTS_WYOMING": f"127.0.0.1:{server.wyoming_port}",
        "STREAMTTS_URL": f"{server.http}/v1",
        "STREAMTTS_WS": server.http.replace("http", "ws") + "/v1/stream",
        "STREAMTTS_TOKEN": TOKEN,
    }
    runs = {
        "wyoming_client.py": ["A sentence for the Wyoming example.", str(tmp_path / "w.wav")],
        "openai_client.py": ["A sentence for the OpenAI example.", str(tmp_path / "o.pcm")],
        "websocket_client.py": [str(tmp_path / "ws.raw")],
    }
    for script, args in runs.items():
        result = subprocess.run(
            [sys.executable, str(examples / script), *args],
            capture_output=True, timeout=120, env=env, text=True,
        )  # fmt: skip
        assert result.returncode == 0, (script, result.stderr)
        assert "wrote" in result.stdout, (script, result.stdout)
    assert (tmp_path / "w.wav").stat().st_size > 44 + 22050
    assert (tmp_path / "o.pcm").stat().st_size > 24000
    assert (tmp_path / "ws.raw").stat().st_size > 2 * 22050 * 2  # two seconds, then the next


def test_metrics_in_prometheus_text(server: Server) -> None:
    text = httpx.get(f"{server.http}/metrics", headers=HEADERS, timeout=10).text
    for name in (
        "streamtts_ttfa_seconds_bucket",
        "streamtts_active_sessions",
        "streamtts_late_audio_seconds_total",
        "streamtts_rtf",
        "streamtts_errors_total",
        "streamtts_refused_total",
    ):
        assert name in text, name
    assert 'streamtts_ttfa_seconds_count{door="wyoming"}' in text


async def wyoming_through_a_drain(server: Server, started: threading.Event) -> list[str]:
    """A Wyoming client mid-utterance when the server is told to stop."""
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize

    kinds = []
    async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as client:
        await client.write_event(Synthesize(LONG[:205]).event())  # ~4 s, paced
        while (event := await client.read_event()) is not None:
            kinds.append(event.type)
            if event.type == "audio-start":
                started.set()
            if event.type in ("audio-stop", "error"):
                break
    return kinds


def test_sigterm_drains_then_exits_0(tmp_path: Path, cache_dir: Path) -> None:
    """Told to stop, the server takes no new session and lets the running
    ones finish, to their last byte: an HTTP response (on a busy machine
    its end was once cut: the drain waited for synthesis, not for the
    audio still queued for the socket) and a Wyoming client mid-utterance
    (whose connection the end of accepting once closed)."""
    server = start_server(tmp_path, "--drain", "20")
    wyoming_started = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        wyoming = pool.submit(run_asyncio, wyoming_through_a_drain, server, wyoming_started)
        assert wyoming_started.wait(30)
        with httpx.stream(
            "POST", f"{server.http}/v1/audio/speech", headers=HEADERS, timeout=60,
            json={"input": "A sentence that is still being spoken when the server is told to stop. " * 3},
        ) as response:  # fmt: skip
            chunks = response.iter_raw()
            first = next(chunks)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            try:  # no new sessions: refused at the door, or told so
                refused = httpx.post(
                    f"{server.http}/v1/audio/speech", headers=HEADERS, json={"input": "New."},
                    timeout=5,
                )  # fmt: skip
                assert refused.status_code == 503
            except httpx.TransportError:
                pass
            rest = b"".join(chunks)  # the running one finishes
        assert wyoming.result(timeout=60)[-1] == "audio-stop"
    assert (len(first) + len(rest)) / 2 / 24000 > 10
    assert server.process.wait(timeout=30) == 0


def test_non_loopback_needs_a_token_or_no_auth() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamtts", "serve", "--host", "0.0.0.0"],
        capture_output=True, timeout=60, env={**os.environ, "STREAMTTS_TOKEN": ""},
    )  # fmt: skip
    assert result.returncode == 1
    assert b"--token" in result.stderr and b"--no-auth" in result.stderr


def test_serve_help_explains_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamtts", "serve", "--help"], capture_output=True, timeout=60
    )
    for flag in (b"--voice", b"--host", b"--port", b"--wyoming", b"--token", b"--no-auth",
                 b"--max-streams", b"--model-slots", b"--drain", b"--idle-timeout"):  # fmt: skip
        assert flag in result.stdout
    assert b"Home Assistant" in result.stdout
