"""The page (``GET /`` on ``streamtts serve``) in a real browser: Debian's
Chromium, headless, driven by Playwright's Python API (never a browser of
Playwright's own), against a real server on loopback.

Headless Chromium and sound: with no sound server to reach, Chromium falls
back from PulseAudio to ALSA, finds no card and plays into a "fake" output
stream that consumes audio at the real-time pace, so the AudioContext runs
and the worklet's play position moves as it would on a speaker. Each browser
here gets ``PULSE_SERVER`` pointing nowhere, so it never plays into a sound
server the machine has (``scripts/sound-server``'s sink, which the device
tests record). A context started without a user gesture stays suspended
unless ``--autoplay-policy=no-user-gesture-required`` is given; the tests
pass it, though every context here is started from a click or a key press.
``--use-fake-device-for-media-stream`` is only about capture and changes
nothing for output.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from streamtts.serve.page import ASSETS, page_routes

try:
    from playwright.sync_api import Browser, Error, Page, expect, sync_playwright
except ImportError:  # the browser tests skip, saying so
    sync_playwright = None

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("STREAMTTS_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT = os.environ.get("STREAMTTS_PAGE_SCREENSHOT")  # e.g. benchmarks/results/page.png
TOKEN = "page-token-42"
SEED = 7
RATE_HZ = 22050
# As root Chromium needs no sandbox; the rest keep it off this machine's closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PARAGRAPH = (
    "Streaming speech starts before the paragraph has been made, so the first words "
    "play while the later sentences are still being computed. "
    "Every word lights up as you hear it. "
    "A listener can stop it at any moment."
)
# Stopped about a second in: well inside its first sentence (about five seconds),
# and long before the server could have made the whole text, even on a fast machine.
FIRST_SENTENCE = (
    "This first sentence is long on purpose, with many words in it, so that pressing "
    "stop a second after it starts always lands in the middle of it. "
)
LONG_TEXT = FIRST_SENTENCE + " ".join(
    ["Then the text goes on, sentence after sentence, and none of them is heard."] * 8
)
browser_test = pytest.mark.slow


# -- the routes alone ---------------------------------------------------------------------


def test_page_routes_serve_the_packaged_files_with_a_strict_policy() -> None:
    client = TestClient(Starlette(routes=page_routes(token_required=True)))
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-token-required="true"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "connect-src 'self' ws://testserver wss://testserver" in policy
    assert "unsafe" not in policy and "http" not in policy
    assert page.headers["cache-control"] == "no-cache"
    # Everything the page links is served here, and nothing else is.
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(linked) == sorted(f"page/{name}" for name in ASSETS if name != "worklet.js")
    for name, media_type in ASSETS.items():
        asset = client.get(f"/page/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"] == media_type
        assert asset.headers["cache-control"] == "no-cache"
    assert client.get("/page/nope.js").status_code == 404
    assert (
        'data-token-required="false"' in TestClient(Starlette(routes=page_routes())).get("/").text
    )
    # A Host header that is not one never reaches the policy.
    odd = client.get("/", headers={"host": "x; script-src *"})
    assert "script-src *" not in odd.headers["content-security-policy"]


# -- a server and a browser ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[str]:
    """``streamtts serve`` on a free loopback port, with a token; its address."""
    port = free_port()
    folder = tmp_path_factory.mktemp("page")
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamtts", "serve",
            "--port", str(port), "--wyoming", "none", "--seed", str(SEED), "--token", TOKEN,
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=folder,  # the installed streamtts (or PYTHONPATH's), not whatever the cwd holds
    )  # fmt: skip
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 180)
        line = process.stdout.readline().decode() if ready else ""
        assert line.startswith("streamtts: serving"), (line, Path(log.name).read_text()[-2000:])
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
            log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.skip("playwright is not installed (scripts/install --test installs it)")
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        pytest.skip(
            f"no browser: {CHROMIUM} is missing (scripts/install --test installs Debian's chromium)"
        )
    # No sound server for the browser: it plays into Chromium's fake output (see above).
    nowhere = tmp_path_factory.mktemp("no-sound") / "pulse"
    env = {**os.environ, "PULSE_SERVER": f"unix:{nowhere}", "HOME": str(nowhere.parent)}
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=FLAGS,
                ignore_default_args=["--mute-audio"],  # the audio path as a user has it
                env=env,
            )
        except Error as err:
            pytest.skip(f"Chromium at {CHROMIUM} does not start here: {err.message[:500]}")
        yield launched
        launched.close()


@dataclass
class Session:
    page: Page
    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    frames_sent: list[str] = field(default_factory=list)

    def hook(self) -> dict[str, Any]:
        return self.page.evaluate("() => window.streamttsTest")  # type: ignore[no-any-return]

    def open(self, query: str = "?test") -> None:
        """Loads the page and gives it the token, as a person would."""
        self.page.goto(f"{self.base}/{query}")
        expect(self.page.locator("#token-form")).to_be_visible()
        self.page.fill("#token", TOKEN)
        self.page.press("#token", "Enter")
        expect(self.page.locator("#status")).to_have_text("Token accepted. Ready to speak.")

    def watch_aria_current(self) -> None:
        """Records, from the DOM itself, every word that gets aria-current."""
        self.page.evaluate(
            """() => {
                window.ariaCurrent = [];
                new MutationObserver((changes) => {
                    for (const change of changes) {
                        if (change.target.getAttribute("aria-current") === "true") {
                            const index = Number(change.target.dataset.index);
                            window.ariaCurrent.push([performance.now(), index]);
                        }
                    }
                }).observe(document.getElementById("spoken"), {
                    subtree: true, attributes: true, attributeFilter: ["aria-current"],
                });
            }"""
        )

    def aria_current(self) -> list[tuple[float, int]]:
        return [(t, i) for t, i in self.page.evaluate("() => window.ariaCurrent")]

    def assert_clean(self) -> None:
        """No console error, and every request was to the server itself."""
        assert self.errors == []
        server = urlsplit(self.base).netloc
        assert self.requests and all(urlsplit(url).netloc == server for url in self.requests), (
            self.requests
        )


@pytest.fixture
def session(browser: Browser, server: str) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 960, "height": 1000})
    found = Session(context.new_page(), server)
    server_host = urlsplit(server).netloc

    def only_the_server(route: Any) -> None:
        if urlsplit(route.request.url).netloc == server_host:
            route.continue_()
        else:
            route.abort()  # recorded below all the same, and the test fails

    context.route("**/*", only_the_server)
    context.on("request", lambda request: found.requests.append(request.url))

    def on_websocket(websocket: Any) -> None:
        found.requests.append(websocket.url)
        websocket.on("framesent", lambda payload: found.frames_sent.append(payload))

    found.page.on("websocket", on_websocket)
    found.page.on(
        "console",
        lambda message: found.errors.append(message.text) if message.type == "error" else None,
    )
    found.page.on("pageerror", lambda error: found.errors.append(f"page error: {error}"))
    yield found
    context.close()


def word_spans(text: str) -> list[int]:
    """Where each word span of the page starts (it splits the text at white space)."""
    return [match.start() for match in re.finditer(r"\S+", text)]


def span_of(starts: list[int], offset: int) -> int:
    return max(i for i, start in enumerate(starts) if start <= offset or i == 0)


def events(hook: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event for event in hook["events"] if event["type"] == kind]


# -- the page in the browser --------------------------------------------------------------


@browser_test
def test_the_page_loads_from_the_server_alone_and_keeps_the_token_for_the_tab(
    session: Session,
) -> None:
    page = session.page
    response = page.goto(f"{session.base}/?test")
    assert response is not None and response.status == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#token-form")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("needs its token")
    expect(page.locator("#token")).to_have_attribute("type", "password")
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#status")).to_have_text("Token accepted. Ready to speak.")
    expect(page.locator("#token-form")).to_be_hidden()
    assert page.evaluate("() => document.activeElement.id") == "text"
    voices = page.locator("#voice option").all_text_contents()
    assert voices == ["en_US-joe-medium (en_US)"]
    stored = page.evaluate(
        "() => ({session: {...sessionStorage}, local: localStorage.length,"
        " cookie: document.cookie})"
    )
    assert stored == {"session": {"streamtts.token": TOKEN}, "local": 0, "cookie": ""}
    # The shortcuts are on the page for a person, and on the buttons for assistive technology.
    expect(page.locator(".actions .help")).to_have_text("Keys: Ctrl+Enter speaks, Esc stops.")
    expect(page.locator("#speak")).to_have_attribute("aria-keyshortcuts", "Control+Enter")
    expect(page.locator("#stop")).to_have_attribute("aria-keyshortcuts", "Escape")
    session.assert_clean()
    assert {urlsplit(url).path for url in session.requests} >= {
        "/", "/page/page.js", "/page/page.css", "/page/favicon.svg", "/v1/voices",
    }  # fmt: skip


@browser_test
def test_speak_plays_while_synthesis_goes_on_and_the_highlight_follows_the_sound(
    session: Session,
) -> None:
    session.open()
    page = session.page
    page.fill("#text", PARAGRAPH)
    session.watch_aria_current()
    page.click("#speak")
    page.wait_for_function("() => window.streamttsTest.state === 'done'", timeout=90_000)
    hook = session.hook()
    assert hook["contextRateHz"] == RATE_HZ  # the AudioContext runs at the voice's rate
    (done,) = events(hook, "done")
    started = hook["started"][0]["t"]
    # Sound before the paragraph was finished: played, not only delivered, before `done`.
    assert hook["fed"][0]["t"] < started < done["t"], (hook["fed"][0], started, done)

    # aria-current walks the words in order, to the last one.
    starts = word_spans(PARAGRAPH)
    seen = session.aria_current()
    indexes = [index for _, index in seen]
    assert indexes == sorted(set(indexes)), indexes
    assert indexes[-1] == len(starts) - 1
    assert len(indexes) >= 0.8 * len(starts), (len(indexes), len(starts))

    # ... with the sound: a word is highlighted once the worklet has played its
    # first sample, never before, and (with no gaps) soon after.
    first_sample: dict[int, int] = {}
    for word in events(hook, "word"):
        first_sample.setdefault(span_of(starts, word["text_start"]), word["sample"])
    gaps = hook["lastReport"]["underruns"]
    for t, index in seen:
        heard_at = started + first_sample[index] / RATE_HZ * 1000
        assert t >= heard_at - 20, (index, t - heard_at)  # ms; a report is 6-12 ms apart
        if gaps == 0:
            assert t <= heard_at + 400, (index, t - heard_at)
    assert seen[-1][0] > done["t"]  # the network had delivered every word long before

    first_audio = page.locator("#first-audio").text_content() or ""
    assert re.fullmatch(r"\d+ ms", first_audio), first_audio
    assert abs(int(first_audio.split()[0]) - (started - hook["speakAt"])) <= 2
    samples = sum(fed["n"] for fed in hook["fed"])
    assert page.locator("#audio-received").text_content() == f"{samples / RATE_HZ:.2f} s"
    assert abs(samples / RATE_HZ - done["audio_s"]) < 0.01
    expect(page.locator("#status")).to_have_text(f"Done: {samples / RATE_HZ:.2f} s of audio.")
    assert page.locator("[aria-current]").count() == 0  # nothing is being heard now
    session.assert_clean()


@browser_test
def test_stop_mid_sentence_silences_the_page_at_once_and_interrupts_the_server(
    session: Session,
) -> None:
    session.open()
    page = session.page
    page.fill("#text", LONG_TEXT)
    session.watch_aria_current()
    page.focus("#text")
    page.keyboard.press("Control+Enter")  # the keyboard alone
    page.wait_for_function(
        "() => window.ariaCurrent.length && window.ariaCurrent.at(-1)[1] >= 4", timeout=60_000
    )
    page.keyboard.press("Escape")
    page.wait_for_timeout(1000)
    hook = session.hook()
    told = [e["type"] for e in hook["events"] if e["type"] != "word" and e["t"] > hook["stopAt"]]
    assert "interrupted" in told, f"the server did not report the interruption; after Stop: {told}"
    stop_at = hook["stopAt"]
    # Stopped mid-sentence: the word being heard was in the first sentence.
    heard_last = session.aria_current()[-1][1]
    starts = word_spans(LONG_TEXT)
    assert starts[heard_last] < len(FIRST_SENTENCE)

    # No sample reached the worklet later than 100 ms after the key press: the
    # page fed none, and the worklet's own count stopped with what was fed.
    late = [fed for fed in hook["fed"] if fed["t"] > stop_at + 100]
    assert late == []
    fed_total = sum(fed["n"] for fed in hook["fed"])
    assert hook["receipts"][-1]["received"] == fed_total
    assert hook["lastReport"]["played"] == 0 and hook["lastReport"]["buffered"] == 0  # silent
    assert hook["state"] == "stopped"
    # The server was told, and said so, naming a word at or after the one heard
    # (it sends ahead of the sound).
    (interrupted,) = events(hook, "interrupted")
    assert interrupted["t"] > stop_at
    heard_sample = min(
        word["sample"]
        for word in events(hook, "word")
        if span_of(starts, word["text_start"]) == heard_last
    )
    assert interrupted["last_word"]["sample"] >= heard_sample
    assert not events(hook, "done")
    expect(page.locator("#status")).to_have_text("Stopped.")
    assert page.locator("[aria-current]").count() == 0
    session.assert_clean()


@browser_test
def test_as_you_type_each_finished_sentence_is_spoken_before_speak_is_pressed(
    session: Session,
) -> None:
    session.open()
    page = session.page
    page.focus("#as-you-type")
    page.keyboard.press("Space")
    expect(page.locator("#as-you-type")).to_be_checked()
    page.fill("#text", "")
    session.watch_aria_current()
    page.focus("#text")
    page.keyboard.type("The first sentence is finished here. ", delay=15)
    page.wait_for_function("() => window.streamttsTest.started.length > 0", timeout=30_000)
    texts = [f for f in session.frames_sent if '"text"' in f]
    assert texts == ['{"type":"text","text":"The first sentence is finished here. "}'], texts
    page.keyboard.type("And a second one", delay=15)
    page.wait_for_timeout(300)
    assert len([f for f in session.frames_sent if '"text"' in f]) == 1  # not finished yet
    page.keyboard.press("Control+Enter")  # Speak finishes it
    page.wait_for_function(
        "() => window.streamttsTest.events.filter((e) => e.type === 'done').length === 2"
        " && window.streamttsTest.state === 'done'",
        timeout=60_000,
    )
    assert session.frames_sent[-2:] == [
        '{"type":"text","text":"And a second one"}',
        '{"type":"end"}',
    ]
    indexes = [index for _, index in session.aria_current()]
    assert (
        indexes == sorted(set(indexes)) and indexes[-1] == page.locator("#spoken span").count() - 1
    )
    session.assert_clean()


@browser_test
def test_the_worklet_resamples_when_the_context_runs_at_another_rate(session: Session) -> None:
    session.open("?test&context_rate=48000")
    page = session.page
    page.fill("#text", "Resampled in the worklet, word by word, at the right pace.")
    session.watch_aria_current()
    page.click("#speak")
    page.wait_for_function("() => window.streamttsTest.state === 'done'", timeout=60_000)
    hook = session.hook()
    assert hook["contextRateHz"] == 48000
    (done,) = events(hook, "done")
    played_s = (hook["finishedAt"] - hook["started"][0]["t"]) / 1000
    if hook["lastReport"]["underruns"] == 0:
        assert abs(played_s - done["audio_s"]) < 0.25, (played_s, done["audio_s"])
    indexes = [index for _, index in session.aria_current()]
    assert indexes[-1] == page.locator("#spoken span").count() - 1
    session.assert_clean()


@browser_test
def test_axe_finds_no_accessibility_violation(session: Session, tmp_path: Path) -> None:
    if not AXE.is_file():
        pytest.skip(f"axe-core is missing ({AXE}; scripts/install --test installs it with npm)")
    page = session.page
    # Served as if from the server itself, so the page's policy lets it run.
    page.route(f"{session.base}/__axe__.js", lambda route: route.fulfill(path=AXE))

    def violations() -> list[dict[str, Any]]:
        page.add_script_tag(url=f"{session.base}/__axe__.js")
        return page.evaluate(  # type: ignore[no-any-return]
            """async () => (await axe.run(document)).violations.map((v) => ({
                id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
            }))"""
        )

    page.goto(f"{session.base}/?test")
    expect(page.locator("#token-form")).to_be_visible()
    assert violations() == []  # asking for the token
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#status")).to_have_text("Token accepted. Ready to speak.")
    page.fill("#text", PARAGRAPH)
    page.click("#speak")
    page.wait_for_function(
        "() => window.streamttsTest.highlights.at(-1)?.index >= 8", timeout=60_000
    )
    expect(page.locator("#spoken [aria-current='true']")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)  # mid-speech
    if SCREENSHOT:
        shutil.copy(tmp_path / "page.png", ROOT / SCREENSHOT)
    assert violations() == []  # speaking, a word highlighted
    page.keyboard.press("Escape")
    expect(page.locator("#status")).to_have_text("Stopped.")
    assert violations() == []
    session.assert_clean()
