"""The agent plugins' shared parts, without a voice or a framework: the
asyncio-side :class:`~streamtts.integrations.speech.Speech` fed scripted
reports, the WebSocket channel's translation both ways, and the
conversation core's interrupt aimed at one utterance."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from streamtts.conversation import outputs
from streamtts.conversation.core import Conversation
from streamtts.conversation.inputs import (
    Admitted,
    AudioMade,
    End,
    Interrupt,
    Speak,
    StartStream,
    Text,
)
from streamtts.conversation.refusals import AT_CAPACITY, Refusal
from streamtts.events import SegmentStarted, WordStarted
from streamtts.integrations.host import LOCAL_RULES
from streamtts.integrations.remote import RemoteChannel, stream_url
from streamtts.integrations.speech import (
    Speech,
    SpeechEnded,
    SpeechUtterance,
    SpokenAudio,
    SpokenWord,
)

RATE = 22050


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), 10))


class FakeChannel:
    """A conversation's wire: what was sent, and reports to hand out."""

    sample_rate_hz = RATE

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.reports: asyncio.Queue[outputs.ClientReport | None] = asyncio.Queue()
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    async def send(self, item: object) -> None:
        self.sent.append(item)

    def __aiter__(self) -> FakeChannel:
        return self

    async def __anext__(self) -> outputs.ClientReport:
        report = await self.reports.get()
        if report is None:
            self._ended = True
            raise StopAsyncIteration
        return report

    async def aclose(self) -> None:
        self.reports.put_nowait(None)


def word(position: int, text: str = "Hello") -> outputs.HeardWord:
    return outputs.HeardWord(1, WordStarted(1, 0, text, 0, len(text), 0.0, position))


async def events(utterance: SpeechUtterance) -> list[object]:
    return [event async for event in utterance.events()]


def test_reports_become_the_utterances_events_timed_from_its_first_sample() -> None:
    async def go() -> tuple[list[object], list[object]]:
        channel = FakeChannel()
        speech = Speech(channel)
        utterance = await speech.stream()
        await utterance.send("Hello there.")
        await utterance.end()
        samples = np.zeros(1000, np.float32)
        for report in [
            outputs.Started(1, utterance.request, True),
            outputs.Audio(1, samples),
            outputs.HeardSegment(1, SegmentStarted(1, 0, "Hello there.", 0, 0.0, 5000)),
            word(5000),
            word(5000 + RATE // 10, "there"),
            outputs.Done(1, True, 1.0, 0.04),
        ]:
            channel.reports.put_nowait(report)
        got = await events(utterance)
        await speech.aclose()
        return channel.sent, got

    sent, got = run(go)
    assert [type(item) for item in sent] == [StartStream, Text, End]
    assert isinstance(got[0], SpokenAudio) and got[0].samples.size == 1000
    assert got[1:3] == [SpokenWord("Hello", 0.0, 0, 5), SpokenWord("there", 0.1, 0, 5)]
    assert got[3] == SpeechEnded(False, None, 1.0, 0.04)


def test_utterances_start_in_order_one_stream_and_two_unfinished_at_a_time() -> None:
    async def go() -> list[object]:
        channel = FakeChannel()
        speech = Speech(channel)
        first = await speech.stream()
        second = await speech.stream()  # the first still takes text: held
        await second.send("two")
        await first.send("one")
        assert second.uid is None and [type(i) for i in channel.sent] == [StartStream, Text]
        await first.end()  # now the second starts, with what it held
        await asyncio.sleep(0)
        assert second.uid == 2
        third = await speech.say("three")  # two unfinished: held
        await second.end()
        await asyncio.sleep(0)
        assert third.uid is None
        channel.reports.put_nowait(outputs.Done(1, True, 1.0, None))
        await events(first)
        await asyncio.sleep(0)
        await speech.aclose()
        return channel.sent

    sent = run(go)
    assert sent == [
        StartStream(sent[0].request),  # type: ignore[attr-defined]
        Text("one"),
        End(),
        StartStream(sent[3].request),  # type: ignore[attr-defined]
        Text("two"),
        End(),
        Speak("three", sent[6].request),  # type: ignore[attr-defined]
    ]


def test_nothing_of_an_interrupted_utterance_comes_after_its_interrupt() -> None:
    async def go() -> tuple[list[object], list[object], list[object]]:
        channel = FakeChannel()
        speech = Speech(channel)
        first = await speech.stream()
        await first.send("A long sentence.")
        channel.reports.put_nowait(outputs.Audio(1, np.zeros(100, np.float32)))
        reader = asyncio.ensure_future(events(first))
        await asyncio.sleep(0.01)
        await first.interrupt()
        channel.reports.put_nowait(outputs.Audio(1, np.zeros(100, np.float32)))  # in flight
        channel.reports.put_nowait(outputs.Stopped(1, True, "interrupt", None))
        second = await speech.say("Next.")
        channel.reports.put_nowait(outputs.Done(2, False, 0.5, None))
        got_first, got_second = await reader, await events(second)
        await speech.aclose()
        return channel.sent, got_first, got_second

    sent, got_first, got_second = run(go)
    assert Interrupt(uid=1) in sent
    assert got_first[-1] == SpeechEnded(True) and len(got_first) == 2  # audio, then the end
    assert got_second == [SpeechEnded(False, None, 0.5, None)]


def test_a_lost_channel_ends_every_utterance_with_an_error() -> None:
    async def go() -> list[object]:
        channel = FakeChannel()
        speech = Speech(channel)
        utterance = await speech.stream()
        channel.reports.put_nowait(None)  # the session is gone
        got = await events(utterance)
        assert not speech.usable
        await speech.aclose()
        return got

    (ended,) = run(go)
    assert isinstance(ended, SpeechEnded) and ended.error is not None


# -- the WebSocket door's channel ------------------------------------------------------------


class FakeWebSocket:
    def __init__(self, messages: list[str | bytes]) -> None:
        self.messages = list(messages)
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosedOK

        if not self.messages:
            raise ConnectionClosedOK(None, None)
        return self.messages.pop(0)

    async def close(self) -> None:
        pass


def test_the_door_address_from_what_a_user_gives() -> None:
    assert stream_url("ws://host:8000", text_format="plain", speed=1.25) == (
        "ws://host:8000/v1/stream?text_format=plain&speed=1.25"
    )
    assert stream_url("https://tts.example/v1/stream?token=x", text_format="markdown", speed=1) == (
        "wss://tts.example/v1/stream?token=x&text_format=markdown&speed=1"
    )
    with pytest.raises(ValueError, match="ws://"):
        stream_url("tcp://host:10200", text_format="plain", speed=1)


def test_the_door_speaks_the_conversation_both_ways() -> None:
    pytest.importorskip("websockets")
    audio = (np.ones(4, "<i2") * 16384).tobytes()
    segment = {"type": "segment", "index": 0, "text": "Hi.", "text_start": 0, "sample": 700}
    messages: list[str | bytes] = [
        audio,
        json.dumps(segment),
        json.dumps({"type": "word", "word": "Hi", "text_start": 0, "text_end": 2, "sample": 700}),
        json.dumps({"type": "done", "audio_s": 0.5, "ttfa_s": 0.03}),
        json.dumps({"type": "error", "code": AT_CAPACITY, "message": "full"}),
        audio,  # of nobody: dropped
    ]

    async def go() -> tuple[list[dict[str, Any]], list[outputs.ClientReport]]:
        websocket = FakeWebSocket(messages)
        channel = RemoteChannel(websocket, RATE)
        await channel.send(StartStream())
        await channel.send(Text("Hi."))
        await channel.send(End())
        await channel.send(Speak("Two."))  # refused below
        await channel.send(Interrupt(uid=2))
        reports = [report async for report in channel]
        return websocket.sent, reports

    sent, reports = run(go)
    assert sent == [
        {"type": "text", "text": ""},
        {"type": "text", "text": "Hi."},
        {"type": "end"},
        {"type": "text", "text": "Two."},
        {"type": "end"},
        {"type": "interrupt"},
    ]
    kinds = [(type(r).__name__, getattr(r, "uid", None)) for r in reports]
    assert kinds == [("Audio", 1), ("HeardSegment", 1), ("HeardWord", 1), ("Done", 1), ("Error", 2)]
    assert isinstance(reports[0], outputs.Audio) and np.allclose(reports[0].samples, 0.5, atol=1e-4)
    assert isinstance(reports[2], outputs.HeardWord) and reports[2].event.position == 700
    assert isinstance(reports[4], outputs.Error) and reports[4].refusal == Refusal(
        AT_CAPACITY, "full"
    )


# -- the core ------------------------------------------------------------------------------------


def test_an_interrupt_with_a_uid_stops_that_utterance_only() -> None:
    conversation = Conversation(LOCAL_RULES)
    conversation.receive(Speak("First."))
    conversation.receive(StartStream())
    conversation.receive(Admitted(1))
    conversation.receive(Admitted(2))
    assert conversation.receive(Interrupt(uid=2)) == [outputs.Stop(2)]
    assert conversation.receive(Interrupt(uid=2)) == []  # once
    samples = np.zeros(10, np.float32)
    (audio,) = conversation.receive(AudioMade(samples))  # the first plays on
    assert isinstance(audio, outputs.Audio) and audio.uid == 1
    assert conversation.receive(Text("late")) != []  # the stream is closed: an error
