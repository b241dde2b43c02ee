"""Delivery and loudness through ``streamtts serve``'s doors, with real
clients: one server process started with ``--delivery lively``, asked for
each delivery per request (HTTP body, WebSocket query) and for a loudness
target per response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyloudnorm
import pytest

from streamtts import PiperVoice, SynthesisOptions, Synthesizer
from streamtts.dsp.levels import stream_ceiling

from .test_serve import HEADERS, SEED, Server, start_server, stop_server

TEXT = "Calm or lively, the words stay the same, and so does the meaning."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("levels"), "--delivery", "lively")
    yield running
    assert stop_server(running) == 0


def speech(server: Server, **fields: object) -> httpx.Response:
    body = {"input": TEXT, "voice": "alloy", "response_format": "pcm", **fields}
    return httpx.post(f"{server.http}/v1/audio/speech", headers=HEADERS, json=body, timeout=120)


def s16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2")


def test_http_takes_either_delivery_per_request(server: Server) -> None:
    default, lively, calm = (
        speech(server),
        speech(server, delivery="lively"),
        speech(server, delivery="calm"),
    )
    assert default.status_code == lively.status_code == calm.status_code == 200
    assert default.content == lively.content  # the server's own is lively here
    assert calm.content != lively.content
    refused = speech(server, delivery="loud")
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "delivery"
    assert refused.json()["error"]["message"] == "delivery must be 'calm' or 'lively'"
    captioned = httpx.post(
        f"{server.http}/dev/captioned_speech", headers=HEADERS, timeout=120,
        json={"input": TEXT, "delivery": "calm", "stream": False},
    )  # fmt: skip
    assert captioned.status_code == 200 and captioned.json()["timestamps"]


async def websocket_audio(url: str) -> bytes:
    import websockets

    audio = b""
    async with websockets.connect(url, additional_headers=HEADERS) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(json.dumps({"type": "text", "text": TEXT}))
        await ws.send(json.dumps({"type": "end"}))
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                audio += message
            elif json.loads(message)["type"] in ("done", "error"):
                assert json.loads(message)["type"] == "done", message
                return audio


def test_the_websocket_query_reaches_the_voice(server: Server, voice: PiperVoice) -> None:
    url = server.http.replace("http", "ws") + "/v1/stream"
    for asked, delivery in (("?delivery=calm", "calm"), ("", "lively")):
        got = s16(asyncio.run(asyncio.wait_for(websocket_audio(url + asked), 120)))
        chunks = Synthesizer(voice, SynthesisOptions(seed=SEED, delivery=delivery)).speak([TEXT])
        want = np.rint(np.clip(np.concatenate([c.samples for c in chunks]), -1, 1) * 32767)
        assert got.shape == want.shape, delivery
        assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= 1, delivery


def test_a_response_at_a_loudness_target_never_clips(server: Server) -> None:
    plain, loud = speech(server), speech(server, loudness=-16)
    assert loud.status_code == 200, loud.text
    samples = s16(loud.content) / 32767.0
    meter = pyloudnorm.Meter(24000)
    assert abs(meter.integrated_loudness(samples) + 16.0) <= 2.0
    assert meter.integrated_loudness(s16(plain.content) / 32767.0) < -20.0
    # The limiter holds the voice's samples under the ceiling; resampling to
    # 24 kHz may add a little, never up to full scale.
    assert float(np.max(np.abs(samples))) <= stream_ceiling(-1.5) * 1.12
    refused = speech(server, loudness="loud")
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "loudness"
