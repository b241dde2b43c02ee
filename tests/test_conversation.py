"""The conversation core, fed events: every door's rules without a socket,
a sound server or a clock.

Each door has a table: what arrives on its wire → the core's inputs (its
parser), a conversation driven through its rules, and the core's reports
→ what goes back on its wire."""

from __future__ import annotations

import json

import numpy as np
import pytest
from wyoming.event import Event as WyomingEvent

from streamtts.conversation import outputs as out
from streamtts.conversation.core import Conversation, Rules
from streamtts.conversation.inputs import (
    Admitted,
    AudioMade,
    End,
    Failed,
    Finished,
    Flush,
    Heard,
    Interrupt,
    Malformed,
    PauseAtMark,
    Refused,
    Speak,
    StartStream,
    Text,
)
from streamtts.conversation.refusals import (
    AT_CAPACITY,
    BAD_REQUEST,
    BUSY,
    OUTSIDE_STREAM,
    PROTOCOL_ERROR,
    TOO_LONG,
    UNKNOWN_EVENT,
    UNKNOWN_VOICE,
    Refusal,
)
from streamtts.conversation.requests import UtteranceRequest
from streamtts.events import MarkReached, SegmentStarted, WordStarted
from streamtts.text.frontend import TextOptions

VOICE = "en_US-joe-medium"
SAMPLES = np.zeros(4, np.float32)
WORD = WordStarted(1, 0, "Hello", 0, 5, 1.0, 0)
SEGMENT = SegmentStarted(1, 0, "Hello there.", 0, 1.0, 0)
MARK = MarkReached(1, "here", 1.0)


def kinds(outputs: list[out.Output]) -> list[str]:
    return [type(o).__name__ for o in outputs]


def codes(outputs: list[out.Output]) -> list[str]:
    return [o.refusal.code for o in outputs if isinstance(o, out.Error)]


# -- the rules every door shares ----------------------------------------------------------


def test_a_whole_utterance_opens_speaks_and_ends() -> None:
    talk = Conversation()
    request = UtteranceRequest(voice=VOICE)
    assert talk.receive(Speak("Hi.", request)) == [out.Open(1, request, "Hi.")]
    assert talk.busy
    assert talk.receive(Admitted(1)) == [out.Started(1, request, False)]
    assert kinds(talk.receive(AudioMade(SAMPLES))) == ["Audio"]
    assert talk.receive(Heard(WORD)) == [out.HeardWord(1, WORD)]
    assert talk.receive(Heard(SEGMENT)) == [out.HeardSegment(1, SEGMENT)]
    assert talk.receive(Finished(1, False, 0.5, 0.03)) == [out.Done(1, False, 0.5, 0.03)]
    assert not talk.busy


def test_text_waits_for_admission_and_a_refused_stream_swallows_its_text() -> None:
    talk = Conversation()
    assert kinds(talk.receive(StartStream())) == ["Open"]
    assert talk.receive(Text("Hello ")) == []  # not admitted yet: held
    assert talk.receive(Admitted(1)) == [
        out.Started(1, UtteranceRequest(), True),
        out.Feed(1, "Hello "),
    ]
    assert talk.receive(End()) == [out.Close(1)]
    talk.receive(Finished(1, False))
    assert kinds(talk.receive(StartStream())) == ["Open"]
    refusal = Refusal.at_capacity(2.0)
    assert talk.receive(Refused(2, refusal)) == [out.Error(refusal, 2)]
    assert talk.receive(Text("more")) == []  # one refusal, not one per piece
    assert talk.receive(End()) == []
    assert not talk.busy


def test_text_over_the_limit_is_refused_and_the_stream_goes_on() -> None:
    talk = Conversation(Rules(max_text_chars=10))
    talk.receive(StartStream())
    talk.receive(Admitted(1))
    assert talk.receive(Text("12345")) == [out.Feed(1, "12345")]
    assert codes(talk.receive(Text("1234567"))) == [TOO_LONG]
    assert talk.receive(Text("12345")) == [out.Feed(1, "12345")]
    assert codes(talk.receive(Speak("x" * 11))) == [TOO_LONG]


def test_nothing_is_reported_of_an_utterance_told_to_stop() -> None:
    talk = Conversation(Rules(overlap="queue", text_opens_stream=True))
    talk.receive(Text("One."))
    talk.receive(Admitted(1))
    assert talk.receive(Interrupt()) == [out.Stop(1)]
    assert talk.receive(AudioMade(SAMPLES)) == []
    assert talk.receive(Heard(WORD)) == []
    assert talk.receive(Finished(1, True, last_word=WORD)) == [
        out.Stopped(1, True, "interrupt", WORD)
    ]
    # Text after an interrupt starts the next utterance.
    assert kinds(talk.receive(Text("Two."))) == ["Open"]


def test_the_engine_failing_is_reported_and_the_conversation_lives() -> None:
    talk = Conversation()
    talk.receive(Speak("Hi."))
    talk.receive(Admitted(1))
    refusal = Refusal("internal", "speaking failed")
    assert talk.receive(Failed(1, refusal)) == [out.Error(refusal, 1)]
    assert kinds(talk.receive(Speak("Again."))) == ["Open"]


def test_pause_at_mark_stops_after_the_mark_is_reported() -> None:
    talk = Conversation(Rules(overlap="replace"))
    talk.receive(Speak("<speak>One.<mark name='here'/>Two.</speak>"))
    talk.receive(Admitted(1))
    assert talk.receive(PauseAtMark()) == []
    assert talk.receive(Heard(MARK)) == [out.HeardMark(1, "here"), out.Stop(1)]
    assert talk.receive(Finished(1, True)) == [out.Stopped(1, False, "pause", None)]


def test_a_fatal_refusal_hangs_up_and_nothing_more_is_heard() -> None:
    talk = Conversation()
    talk.receive(Speak("Hi."))
    talk.receive(Admitted(1))
    refusal = Refusal(PROTOCOL_ERROR, "header is not JSON", fatal=True)
    assert talk.receive(Malformed(refusal)) == [out.Error(refusal), out.Stop(1), out.Hangup()]
    assert talk.receive(Speak("More.")) == []


def test_overlap_rules() -> None:
    refuse, queue, replace = (
        Conversation(Rules(overlap=o)) for o in ("refuse", "queue", "replace")
    )
    for talk in (refuse, queue, replace):
        talk.receive(Speak("One."))
        talk.receive(Admitted(1))
    assert codes(refuse.receive(Speak("Two."))) == [BUSY]
    assert kinds(queue.receive(Speak("Two."))) == ["Open"]
    assert kinds(replace.receive(Speak("Two."))) == ["Stop", "Open"]
    # The replaced one is reported stopped, as replaced; the new one plays on.
    replace.receive(Admitted(2))
    assert replace.receive(AudioMade(SAMPLES)) == []  # still the old one's: dropped
    assert replace.receive(Finished(1, True)) == [out.Stopped(1, False, "replaced", None)]
    assert kinds(replace.receive(AudioMade(SAMPLES))) == ["Audio"]


def test_voices_are_checked() -> None:
    talk = Conversation(Rules(voices=frozenset({VOICE})))
    assert codes(talk.receive(Speak("Hi.", UtteranceRequest(voice="zed")))) == [UNKNOWN_VOICE]
    assert kinds(talk.receive(Speak("Hi.", UtteranceRequest(voice=VOICE)))) == ["Open"]


# -- Wyoming --------------------------------------------------------------------------------


def wyoming(kind: str, **data: object) -> WyomingEvent:
    return WyomingEvent(type=kind, data=data)


def wyoming_translator():  # type: ignore[no-untyped-def]
    from streamtts.serve.wyoming_wire import WyomingTranslator

    return WyomingTranslator(wyoming("info"), 22050)


MARKDOWN = UtteranceRequest(reading=TextOptions(format="markdown"))
SSML = UtteranceRequest(reading=TextOptions(format="ssml"))

WYOMING_IN = [
    (wyoming("synthesize", text="Hi."), [Speak("Hi.", MARKDOWN)]),
    (wyoming("synthesize", text="<speak>Hi.</speak>", text_format="ssml"), [Speak("<speak>Hi.</speak>", SSML)]),
    (wyoming("synthesize", text="Hi.", voice={"name": VOICE}), [Speak("Hi.", UtteranceRequest(MARKDOWN.reading, voice=VOICE))]),
    (wyoming("synthesize-start"), [StartStream(MARKDOWN)]),
    (wyoming("synthesize-chunk", text="Hel"), [Text("Hel")]),
    (wyoming("synthesize-stop"), [End()]),
    (wyoming("synthesize", voice={}), [Malformed(Refusal(BAD_REQUEST, "synthesize needs a text"))]),
    (wyoming("launch-rockets"), [Malformed(Refusal(UNKNOWN_EVENT, "unknown event type 'launch-rockets'"))]),
]  # fmt: skip


@pytest.mark.parametrize(("event", "expected"), WYOMING_IN, ids=[e.type for e, _ in WYOMING_IN])
def test_wyoming_events_to_inputs(event: WyomingEvent, expected: list[object]) -> None:
    assert wyoming_translator().inputs(event) == expected


def test_wyoming_answers_describe_and_ping_itself() -> None:
    translator = wyoming_translator()
    assert translator.inputs(wyoming("describe")).type == "info"
    assert translator.inputs(wyoming("ping", text="x")).type == "pong"


def test_wyoming_reports_to_events() -> None:
    translator = wyoming_translator()
    request = UtteranceRequest()
    assert [e.type for e in translator.events(out.Started(1, request, False))] == ["audio-start"]
    chunk = translator.events(out.Audio(1, np.full(3, 0.5, np.float32)))[0]
    assert chunk.type == "audio-chunk" and len(chunk.payload) == 6
    assert [e.type for e in translator.events(out.Done(1, False, 1.0, 0.1))] == ["audio-stop"]
    streamed = translator.events(out.Stopped(1, True, "interrupt", None))
    assert [e.type for e in streamed] == ["audio-stop", "synthesize-stopped"]
    error = translator.events(out.Error(Refusal.at_capacity(2)))[0]
    assert error.type == "error" and error.data["code"] == AT_CAPACITY
    assert translator.events(out.HeardWord(1, WORD)) == []  # Wyoming has no word events


def test_wyoming_rules_home_assistant_streaming() -> None:
    """synthesize-start, chunks, the compatibility synthesize, synthesize-stop."""
    from streamtts.serve.wyoming_wire import WyomingLimits

    talk = Conversation(
        Rules(
            overlap="refuse", ignore_speak_in_stream=True, max_text_chars=WyomingLimits().text_chars
        )
    )
    translator = wyoming_translator()
    said: list[out.Output] = []
    for event in [
        wyoming("synthesize-start"),
        wyoming("synthesize-chunk", text="Hello. "),
        wyoming("synthesize", text="Hello. "),
        wyoming("synthesize-stop"),
    ]:
        for item in translator.inputs(event):
            said += talk.receive(item)
        if len(said) == 1:
            said += talk.receive(Admitted(1))
    assert kinds(said) == ["Open", "Started", "Feed", "Close"]  # the whole text once
    assert codes(talk.receive(Text("x"))) == [OUTSIDE_STREAM]
    assert codes(talk.receive(End())) == [OUTSIDE_STREAM]
    assert codes(talk.receive(Speak("Busy?"))) == [BUSY]  # still speaking
    events = [e.type for r in talk.receive(Finished(1, False)) for e in translator.events(r)]
    assert events == ["audio-stop", "synthesize-stopped"]


# -- the WebSocket ------------------------------------------------------------------------


def ws_parse(text: str | None):  # type: ignore[no-untyped-def]
    from streamtts.serve.limits import HttpLimits
    from streamtts.serve.websocket import parse_message

    return parse_message(text, HttpLimits(message_bytes=100))


WEBSOCKET_IN = [
    ('{"type": "text", "text": "Hi"}', Text("Hi")),
    ('{"type": "flush"}', Flush()),
    ('{"type": "end"}', End()),
    ('{"type": "interrupt"}', Interrupt()),
    (None, Malformed(Refusal(BAD_REQUEST, "send JSON text messages, not binary"))),
    ("{nope", Malformed(Refusal(BAD_REQUEST, 'each message must be a JSON object with a "type"'))),
    ('{"text": "x"}', Malformed(Refusal(BAD_REQUEST, 'each message must be a JSON object with a "type"'))),
    ('{"type": "text", "text": 5}', Malformed(Refusal(BAD_REQUEST, '"text" must be a string'))),
    ('{"type": "dance"}', Malformed(Refusal(UNKNOWN_EVENT, "unknown message type 'dance'"))),
    ('{"type": "text", "text": "' + "x" * 200 + '"}', Malformed(Refusal(BAD_REQUEST, "message over 100 bytes"))),
]  # fmt: skip


@pytest.mark.parametrize(("message", "expected"), WEBSOCKET_IN)
def test_websocket_messages_to_inputs(message: str | None, expected: object) -> None:
    assert ws_parse(message) == expected


def test_websocket_reports_to_messages() -> None:
    from streamtts.serve.websocket import report_messages

    assert report_messages(out.Audio(1, np.full(2, 0.5, np.float32))) == [b"\x00\x40\x00\x40"]
    word = json.loads(report_messages(out.HeardWord(1, WORD))[0])
    assert word == {"type": "word", "word": "Hello", "text_start": 0, "text_end": 5, "sample": 0}
    assert json.loads(report_messages(out.HeardMark(1, "here"))[0]) == {
        "type": "mark",
        "name": "here",
    }
    stopped = json.loads(report_messages(out.Stopped(1, True, "interrupt", WORD))[0])
    assert stopped["type"] == "interrupted" and stopped["last_word"]["word"] == "Hello"
    done = json.loads(report_messages(out.Done(1, True, 1.5, 0.04))[0])
    assert done == {"type": "done", "audio_s": 1.5, "ttfa_s": 0.04}
    assert report_messages(out.Started(1, UtteranceRequest(), True)) == []


def test_websocket_query_settings() -> None:
    from streamtts.serve.websocket import websocket_request

    request, problems = websocket_request({"text_format": "plain", "speed": "1.5"})
    assert request.reading == TextOptions(format="plain") and request.rate == 1.5 and not problems
    request, problems = websocket_request({"text_format": "html", "speed": "fast"})
    assert request.reading == TextOptions(format="markdown") and request.rate == 1.0
    assert [p.code for p in problems] == [BAD_REQUEST, BAD_REQUEST]


def test_websocket_rules_queue_utterances_and_ignore_a_stray_end() -> None:
    talk = Conversation(
        Rules(overlap="queue", text_opens_stream=True, refuse_end_outside_stream=False)
    )
    assert talk.receive(End()) == []
    for message in [
        '{"type": "text", "text": "One."}',
        '{"type": "end"}',
        '{"type": "text", "text": "Two."}',
    ]:
        talk.receive(ws_parse(message))
    assert kinds(talk.receive(Admitted(1))) == ["Started", "Feed", "Close"]
    assert kinds(talk.receive(Admitted(2))) == ["Started", "Feed"]
    assert kinds(talk.receive(AudioMade(SAMPLES))) == ["Audio"]  # the first one's
    assert talk.receive(AudioMade(SAMPLES))[0].uid == 1  # type: ignore[union-attr]
    talk.receive(Finished(1, False))
    assert talk.receive(AudioMade(SAMPLES))[0].uid == 2  # type: ignore[union-attr]


# -- OpenAI's HTTP ---------------------------------------------------------------------------


def speech(body: object) -> object:
    from streamtts.serve.openai import parse_speech_request

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        return parse_speech_request(raw, VOICE)
    except Refusal as refusal:
        return refusal


HTTP_IN = [
    ({"input": "Hi."}, Speak("Hi.", UtteranceRequest(MARKDOWN.reading, 1.0, VOICE))),
    ({"input": "Hi.", "voice": "alloy", "speed": 2}, Speak("Hi.", UtteranceRequest(MARKDOWN.reading, 2.0, VOICE))),
    ({"input": "Hi.", "voice": {"id": "nova"}, "text_format": "plain"}, Speak("Hi.", UtteranceRequest(TextOptions(format="plain"), 1.0, VOICE))),
    ({"input": "Hi.", "voice": "zed"}, Speak("Hi.", UtteranceRequest(MARKDOWN.reading, 1.0, "zed"))),  # the core refuses it
    (b"{nope", ("bad-request", None)),
    ([1, 2], ("bad-request", None)),
    ({"voice": "alloy"}, ("bad-request", "input")),
    ({"input": "x", "response_format": "mp3"}, ("bad-request", "response_format")),
    ({"input": "x", "speed": 9}, ("bad-request", "speed")),
    ({"input": "x", "stream_format": "chunks"}, ("bad-request", "stream_format")),
    ({"input": "x", "text_format": "html"}, ("bad-request", "text_format")),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), HTTP_IN)
def test_openai_requests_to_inputs(body: object, expected: object) -> None:
    parsed = speech(body)
    if isinstance(expected, Speak):
        assert parsed.speak == expected  # type: ignore[union-attr]
    else:
        assert isinstance(parsed, Refusal) and (parsed.code, parsed.param) == expected


def test_openai_statuses_come_from_codes_not_messages() -> None:
    from streamtts.serve.openai import status_for

    assert status_for(Refusal(BAD_REQUEST, "capacity, limit, over")) == 400
    assert status_for(Refusal("body-too-large", "x")) == 413
    assert status_for(Refusal.at_capacity(2)) == 503
    assert status_for(Refusal.too_long(5000, 4096, "input")) == 400


def test_openai_reports_to_a_streamed_response() -> None:
    from streamtts.serve.openai import SpeechResponse

    for stream_format in ("audio", "sse"):
        request = speech({"input": "Hi.", "response_format": "wav", "stream_format": stream_format})
        response = SpeechResponse(request, 22050)  # type: ignore[arg-type]
        start = response.messages(out.Started(1, UtteranceRequest(), False))
        assert start[0]["status"] == 200
        body = response.messages(out.Audio(1, np.full(2205, 0.1, np.float32)))
        end = response.messages(out.Done(1, False, 0.1, 0.01))
        assert end[-1]["more_body"] is False and response.ended
        if stream_format == "sse":
            assert body[0]["body"].startswith(b"data: ")
            assert json.loads(end[-1]["body"][6:])["type"] == "speech.audio.done"
        else:
            assert start[1]["body"][:4] == b"RIFF"


# -- speech-dispatcher -------------------------------------------------------------------------


def test_speechd_commands_to_inputs_and_reports_to_events() -> None:
    from streamtts.speechd.module import SPEECHD_RULES, ModuleDoor
    from streamtts.speechd.protocol import Command
    from streamtts.speechd.settings import Settings, speak_input

    settings = Settings()
    assert settings.update({"rate": "100", "punctuation_mode": "all", "cap_let_recogn": "icon"})
    said = speak_input(Command("SPEAK", text="Hi"), settings, VOICE)
    assert said.text.startswith('<speak><prosody rate="400%"') and said.request.voice == VOICE
    assert said.request.reading == TextOptions(format="ssml", punctuation="all", capitals="tone")
    assert speak_input(Command("CHAR", text="B"), settings, None).text == "cap B"
    assert speak_input(Command("KEY", text="ctrl+c"), settings, None).text == "control c"

    lines: list[bytes] = []

    class Out:
        def send_nowait(self, data: bytes) -> None:
            lines.append(data)

    door = ModuleDoor(Out(), speaker=None)  # type: ignore[arg-type]
    talk = Conversation(SPEECHD_RULES)
    for event in [
        Speak("One."),
        Admitted(1),
        Heard(MARK),
        PauseAtMark(),
        Heard(MARK),
        Finished(1, True),
    ]:
        for report in talk.receive(event):  # type: ignore[arg-type]
            if not isinstance(report, (out.Open, out.Stop, out.Started)):
                door.write(report)  # type: ignore[arg-type]
    assert b"".join(lines).decode().splitlines() == [
        "700-here", "700 INDEX MARK", "700-here", "700 INDEX MARK", "704 PAUSE",
    ]  # fmt: skip
    lines.clear()
    for event in [
        Speak("Two."),
        Admitted(2),
        Speak("Three."),
        Admitted(3),
        Finished(2, True),
        Interrupt("stop"),
        Finished(3, True),
    ]:
        for report in talk.receive(event):  # type: ignore[arg-type]
            if not isinstance(report, (out.Open, out.Stop, out.Started)):
                door.write(report)  # type: ignore[arg-type]
    # Replaced: nothing (the next 701 says it); stopped: 703.
    assert b"".join(lines).decode().splitlines() == ["703 STOP"]


def test_idle_counts_from_the_last_word_or_the_end_of_the_audio() -> None:
    from streamtts.conversation.idle import IdleWatch

    watch = IdleWatch(idle_s=3.0, now=0.0)
    assert watch.wait_s(0.0) == 1.0 and not watch.expired(2.0, busy=False)
    assert watch.expired(3.0, busy=False)
    watch.heard(3.5)  # a message: it starts again
    assert not watch.expired(6.0, busy=False) and watch.wait_s(6.0) == 0.5
    # Its audio plays for a minute: not idle, and idle again only 3 s after.
    assert not watch.expired(10.0, busy=True) and not watch.expired(60.0, busy=True)
    assert not watch.expired(62.9, busy=False) and watch.expired(63.0, busy=False)
