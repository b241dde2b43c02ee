// streamtts's page: text in, speech out through the /v1/stream WebSocket,
// played by an AudioWorklet (worklet.js) with a small jitter buffer; the word
// being heard is highlighted (and carries aria-current), moving with the
// sound as the worklet reports it played, not as the network delivered it.
//
// A "run" is what one Speak starts: one utterance on the WebSocket (text,
// then end), or, when speaking as you type, one utterance per finished
// sentence, queued behind each other. Stop sends interrupt, clears the
// worklet at once and retires the connection: whatever of the stopped run is
// still on its way is dropped, the connection is closed once the server has
// said "interrupted" (or after a grace period), and the next run opens a new
// one. A connection is also replaced when its settings (voice, rate, text
// format, token) change.
//
// With ?test in the address, window.streamttsTest records what the browser
// tests check: samples fed to the worklet, its receipts, the server's events
// and the highlights, each with its performance.now() time. ?context_rate=N
// asks for an AudioContext at N Hz (to exercise the worklet's resampler).

const RING_CAPACITY = 1 << 17; // the worklet's ring, in samples (a power of two)
const TOKEN_KEY = "streamtts.token";
const DEFAULT_RATE_HZ = 22050;
// A sentence is finished at . ! ? … (and closing quotes or brackets) before
// whitespace, or at a line break; after a pause in typing, also at the end.
const SENTENCE_END = /[.!?…]["'”’)\]]*\s+|\n+/g;
const ENDS_SENTENCE = /[.!?…]["'”’)\]]*$/;
const TYPING_PAUSE_MS = 1200;
const RETIRE_GRACE_MS = 1500; // a stopped connection is closed by then at the latest

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ui = {
  tokenForm: $("token-form"),
  token: $("token"),
  form: $("speech-form"),
  text: $("text"),
  voice: $("voice"),
  rate: $("rate"),
  rateValue: $("rate-value"),
  format: $("format"),
  asYouType: $("as-you-type"),
  stop: $("stop"),
  spoken: $("spoken"),
  firstAudio: $("first-audio"),
  received: $("audio-received"),
  serverTtfa: $("server-ttfa"),
  gaps: $("gaps"),
  status: $("status"),
};

const hook = {
  fed: [], // {t, n, epoch}: samples posted to the worklet
  receipts: [], // {t, received}: the worklet's running count of samples it received
  events: [], // {t, connection, ...event}: the server's JSON events
  highlights: [], // {t, index}: the word span that got aria-current
  started: [], // {t}: the worklet started playing after silence
  speakAt: null,
  stopAt: null,
  state: "idle", // idle | speaking | done | stopped
  contextRateHz: null,
  lastReport: null, // the worklet's last report
  finishedAt: null,
};
const testing = params.has("test");
if (testing) window.streamttsTest = hook;

function record(list, entry) {
  if (testing) list.push({ t: performance.now(), ...entry });
}

function announce(message) {
  ui.status.textContent = message;
}

function seconds(samples, rateHz) {
  return `${(samples / rateHz).toFixed(2)} s`;
}

// -- the player: an AudioContext and the worklet ------------------------------------

const player = {
  context: null,
  node: null,
  loading: null,
  inputRateHz: DEFAULT_RATE_HZ,
  epoch: 0,
  queue: [], // [{samples, start}] waiting for room in the ring
  fed: 0, // samples posted since the last clear
  played: 0, // samples played since the last clear, as last reported
  base: null, // the connection's index of the first sample fed since the last clear
  underruns: 0,
  drainPending: false,

  // Call from an input event's handler, before any await: browsers let a
  // page start sound only in answer to the user.
  open(inputRateHz) {
    this.configure(inputRateHz);
    if (this.context) {
      if (this.context.state === "suspended") this.context.resume();
      return;
    }
    const wantedHz = Number(params.get("context_rate")) || inputRateHz;
    try {
      this.context = new AudioContext({ sampleRate: wantedHz, latencyHint: "interactive" });
    } catch {
      this.context = new AudioContext({ latencyHint: "interactive" }); // the worklet resamples
    }
    hook.contextRateHz = this.context.sampleRate;
    this.loading = this.context.audioWorklet.addModule("page/worklet.js").then(() => {
      this.node = new AudioWorkletNode(this.context, "streamtts-player", {
        numberOfInputs: 0,
        outputChannelCount: [1],
        processorOptions: {
          inputRateHz: this.inputRateHz,
          capacity: RING_CAPACITY,
          epoch: this.epoch,
        },
      });
      this.node.port.onmessage = (event) => this.reported(event.data);
      this.node.connect(this.context.destination);
      this.pump();
    });
    this.loading.catch((error) => announce(`Cannot play audio here: ${error.message}`));
  },

  configure(inputRateHz) {
    if (inputRateHz === this.inputRateHz) return;
    this.inputRateHz = inputRateHz;
    this.node?.port.postMessage({ type: "configure", inputRateHz });
  },

  // The connection's index of the sample the listener hears now.
  heardSample() {
    if (this.base === null || !this.context) return null;
    const latencyS = (this.context.outputLatency || 0) + (this.context.baseLatency || 0);
    return this.base + this.played - Math.round(latencyS * this.inputRateHz);
  },

  enqueue(samples, start) {
    this.queue.push({ samples, start });
    this.pump();
  },

  // Feeds the worklet as far as its ring has room (counted from what it has
  // reported playing, so the estimate errs on the full side).
  pump() {
    if (!this.node) return;
    let room = RING_CAPACITY - (this.fed - this.played);
    while (this.queue.length > 0 && room > 0) {
      const chunk = this.queue[0];
      if (this.base === null) this.base = chunk.start;
      let piece = chunk.samples;
      if (piece.length > room) {
        piece = chunk.samples.slice(0, room);
        chunk.samples = chunk.samples.subarray(room);
        chunk.start += room;
      } else {
        this.queue.shift();
      }
      const n = piece.length; // before a transfer empties it
      const whole = piece.byteOffset === 0 && piece.byteLength === piece.buffer.byteLength;
      this.node.port.postMessage({ type: "samples", samples: piece }, whole ? [piece.buffer] : []);
      this.fed += n;
      room -= n;
      record(hook.fed, { n, epoch: this.epoch });
    }
    if (this.drainPending && this.queue.length === 0) {
      this.drainPending = false;
      this.node.port.postMessage({ type: "drain" });
    }
  },

  // No more audio is owed: play out what is buffered, however little.
  drain() {
    this.drainPending = true;
    this.pump();
  },

  // More audio is owed again: buffer a little before playing.
  more() {
    this.drainPending = false;
    this.node?.port.postMessage({ type: "more" });
  },

  // Silence at once and forget everything buffered.
  clear() {
    this.epoch += 1;
    this.queue = [];
    this.fed = 0;
    this.played = 0;
    this.base = null;
    this.drainPending = false;
    this.node?.port.postMessage({ type: "clear", epoch: this.epoch });
  },

  busy() {
    return this.queue.length > 0 || this.fed > this.played;
  },

  reported(report) {
    if (testing && report.received !== hook.receipts.at(-1)?.received) {
      record(hook.receipts, { received: report.received });
    }
    this.underruns = report.underruns;
    hook.lastReport = report;
    if (report.epoch !== this.epoch) return; // from before the last clear
    this.played = report.played;
    this.pump();
    onPlayed(report);
  },
};

// -- the connection ---------------------------------------------------------------

let connection = null;
let connections = 0;

function settingsQuery() {
  const query = new URLSearchParams();
  query.set("text_format", ui.format.value);
  query.set("speed", Number(ui.rate.value).toFixed(2));
  if (ui.voice.value) query.set("voice", ui.voice.value);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) query.set("token", token);
  return query.toString();
}

function connect() {
  const query = settingsQuery();
  if (connection && !connection.retired && connection.query === query) {
    if (connection.ws.readyState <= WebSocket.OPEN) return connection;
  }
  if (connection && !connection.retired) connection.ws.close(1000, "settings changed");
  const url = new URL("v1/stream", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = query;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const c = { id: ++connections, ws, query, samples: 0, outbox: [], opened: false, retired: false };
  ws.onopen = () => {
    c.opened = true;
    for (const message of c.outbox) ws.send(message);
    c.outbox = [];
  };
  ws.onmessage = (message) => received(c, message.data);
  ws.onclose = (event) => closed(c, event);
  connection = c;
  return c;
}

function send(c, message) {
  const text = JSON.stringify(message);
  if (c.ws.readyState === WebSocket.OPEN) c.ws.send(text);
  else if (c.ws.readyState === WebSocket.CONNECTING) c.outbox.push(text);
}

// A stopped run's connection: its audio is dropped; it is closed once the
// server reports the interruption, so nothing of the old run can leak into
// the next one, and a server that has not stopped is stopped by the close.
function retire(c) {
  if (c.retired) return;
  c.retired = true;
  send(c, { type: "interrupt" });
  c.timer = setTimeout(() => c.ws.close(1000, "stopped"), RETIRE_GRACE_MS);
  if (connection === c) connection = null;
}

function received(c, data) {
  if (typeof data !== "string") {
    const samples = new Int16Array(data, 0, data.byteLength >> 1);
    const start = c.samples;
    c.samples += samples.length;
    if (!c.retired && run && !run.finished && run.connection === c) receivedAudio(samples, start);
    return;
  }
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  record(hook.events, { connection: c.id, retired: c.retired, ...event });
  if (c.retired) {
    if (event.type === "interrupted" || event.type === "done") {
      clearTimeout(c.timer);
      c.ws.close(1000, "stopped");
    }
    return;
  }
  switch (event.type) {
    case "ready":
      player.configure(event.sample_rate_hz);
      c.rateHz = event.sample_rate_hz;
      break;
    case "word":
      if (run && !run.finished && run.connection === c) receivedWord(event);
      break;
    case "done":
      if (run && !run.finished && run.connection === c) pieceDone(event);
      break;
    case "interrupted":
      break; // only after our own interrupt, on a retired connection
    case "error":
      // An idle connection closed by the server is no news: the next run opens another.
      if (event.code !== "idle" && !/^closing: idle/.test(event.message)) {
        announce(`The server says: ${event.message}`);
      }
      break;
  }
}

function closed(c, event) {
  clearTimeout(c.timer);
  if (c.retired || connection !== c) return;
  connection = null;
  const speaking = run && !run.finished && run.open > 0;
  if (speaking) {
    run.open = 0;
    player.drain(); // play what arrived
  }
  // A refused token closes the socket (1008), or fails the handshake before it opens.
  if (event.code === 1008 || !c.opened) {
    if (document.documentElement.dataset.tokenRequired === "true") {
      sessionStorage.removeItem(TOKEN_KEY);
      askForToken("The server refused the connection. Enter its token again.");
    } else {
      announce("The server refused the connection.");
    }
  } else if (speaking) {
    announce(`The connection closed${event.reason ? `: ${event.reason}` : ""}.`);
  }
}

// -- a run: what one Speak starts ---------------------------------------------------

let run = null;
let typedSent = ""; // the part of the text box already spoken, as you type
let typingTimer = null;

function startRun(at, typing = false) {
  stopRun();
  const c = connect();
  player.open(voiceRateHz());
  player.clear();
  ui.spoken.replaceChildren();
  run = {
    at,
    connection: c,
    text: "",
    spans: [],
    pieces: [], // each utterance's offset in run.text, in the order sent
    eventPiece: 0, // the utterance whose events arrive now
    open: 0, // utterances sent whose done has not come
    words: [], // [{sample, span}] not yet heard
    current: null,
    heardUpTo: 0,
    samples: 0,
    firstPlayedAt: null,
    underrunsAtStart: player.underruns,
    typing, // spoken as typed: one utterance per finished sentence, announced quietly
    finished: false,
  };
  hook.speakAt = at;
  hook.state = "speaking";
  ui.firstAudio.textContent = "…";
  ui.received.textContent = "0.00 s";
  ui.serverTtfa.textContent = "…";
  ui.gaps.textContent = "0";
  return run;
}

// One utterance of the run: its text, then end.
function sendUtterance(text) {
  const base = run.text.length;
  run.pieces.push(base);
  run.open += 1;
  showText(text, base);
  player.more();
  send(run.connection, { type: "text", text });
  send(run.connection, { type: "end" });
}

function showText(text, base) {
  run.text += text;
  const fragment = document.createDocumentFragment();
  for (const match of text.matchAll(/(\s+)|(\S+)/g)) {
    if (match[1]) {
      fragment.append(match[1]);
      continue;
    }
    const span = document.createElement("span");
    span.textContent = match[2];
    span.dataset.index = String(run.spans.length);
    run.spans.push({ start: base + match.index, span });
    fragment.append(span);
  }
  ui.spoken.append(fragment);
}

// The word span holding a character of the run's text.
function spanAt(offset) {
  const spans = run.spans;
  let low = 0;
  let high = spans.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (spans[middle].start <= offset) low = middle;
    else high = middle - 1;
  }
  return spans[low]?.span ?? null;
}

function receivedAudio(int16, start) {
  const samples = new Float32Array(int16.length);
  for (let i = 0; i < int16.length; i++) samples[i] = int16[i] / 32768;
  run.samples += samples.length;
  ui.received.textContent = seconds(run.samples, player.inputRateHz);
  player.enqueue(samples, start);
}

function receivedWord(event) {
  const base = run.pieces[run.eventPiece] ?? 0;
  const span = spanAt(base + event.text_start);
  if (span) run.words.push({ sample: event.sample, span });
  advance();
}

function pieceDone(event) {
  run.eventPiece += 1;
  run.open = Math.max(0, run.open - 1);
  if (typeof event.ttfa_s === "number" && ui.serverTtfa.textContent === "…") {
    ui.serverTtfa.textContent = `${Math.round(event.ttfa_s * 1000)} ms`;
  }
  if (run.open === 0) player.drain();
  if (run.samples === 0 && run.open === 0) finishRun();
}

function onPlayed(report) {
  if (!run || run.finished) return;
  if (report.type === "started" && run.firstPlayedAt === null) {
    run.firstPlayedAt = performance.now();
    record(hook.started, {});
    ui.firstAudio.textContent = `${Math.round(run.firstPlayedAt - run.at)} ms`;
  }
  ui.gaps.textContent = String(report.underruns - run.underrunsAtStart);
  advance();
  if (report.type === "idle" && run.open === 0 && !player.busy()) finishRun();
}

// Highlights the last word whose first sample the listener has heard.
function advance() {
  const heard = player.heardSample();
  if (heard === null) return;
  let word = null;
  while (run.words.length > 0 && run.words[0].sample <= heard) word = run.words.shift();
  if (word) setCurrent(word.span);
}

function setCurrent(span) {
  if (run.current === span) return;
  run.current?.removeAttribute("aria-current");
  const index = Number(span.dataset.index);
  for (let i = run.heardUpTo; i < index; i++) run.spans[i].span.classList.add("heard");
  run.heardUpTo = Math.max(run.heardUpTo, index);
  span.setAttribute("aria-current", "true");
  run.current = span;
  record(hook.highlights, { index });
  const box = ui.spoken;
  if (span.offsetTop < box.scrollTop || span.offsetTop + span.offsetHeight > box.scrollTop + box.clientHeight) {
    box.scrollTop = span.offsetTop - box.clientHeight / 3;
  }
}

function clearCurrent() {
  if (!run) return;
  run.current?.removeAttribute("aria-current");
  run.current = null;
}

function finishRun() {
  for (const word of run.words) setCurrent(word.span); // heard, if not yet shown
  run.words = [];
  clearCurrent();
  for (const { span } of run.spans) span.classList.add("heard");
  run.finished = true;
  hook.state = "done";
  hook.finishedAt = performance.now();
  if (!run.typing) announce(`Done: ${seconds(run.samples, player.inputRateHz)} of audio.`);
}

// Stops the current run; true if there was one to stop.
function stopRun() {
  if (!run || run.finished) return false;
  player.clear();
  if (run.open > 0 || run.connection.ws.readyState !== WebSocket.OPEN) retire(run.connection);
  run.finished = true;
  run.words = [];
  clearCurrent();
  hook.state = "stopped";
  return true;
}

// -- what the person does --------------------------------------------------------------

function tokenMissing() {
  if (document.documentElement.dataset.tokenRequired !== "true") return false;
  if (sessionStorage.getItem(TOKEN_KEY)) return false;
  askForToken("Enter the server's token first.");
  ui.token.focus();
  return true;
}

function voiceRateHz() {
  const option = ui.voice.selectedOptions[0];
  return Number(option?.dataset.rateHz) || DEFAULT_RATE_HZ;
}

function speak(event) {
  const at = event?.timeStamp ?? performance.now();
  if (tokenMissing()) return;
  if (ui.asYouType.checked && pendingTyped().trim()) {
    sendTyped(at, true); // the sentence being typed, finished by Speak
    return;
  }
  const text = ui.text.value;
  if (!text.trim()) {
    announce("Nothing to say: type or paste some text first.");
    ui.text.focus();
    return;
  }
  startRun(at);
  sendUtterance(text);
  typedSent = text;
  announce("Speaking…");
}

function stop(event) {
  hook.stopAt = event?.timeStamp ?? performance.now();
  typedSent = ui.text.value;
  clearTimeout(typingTimer);
  if (stopRun()) announce("Stopped.");
}

function pendingTyped() {
  return ui.text.value.slice(typedSent.length);
}

function typed() {
  if (!ui.asYouType.checked) return;
  const value = ui.text.value;
  if (!value.startsWith(typedSent)) {
    // An edit before what was spoken: go on from where the texts part.
    let same = 0;
    while (same < typedSent.length && value[same] === typedSent[same]) same += 1;
    typedSent = value.slice(0, same);
  }
  clearTimeout(typingTimer);
  sendTyped(performance.now(), false);
  typingTimer = setTimeout(() => sendTyped(performance.now(), true, true), TYPING_PAUSE_MS);
}

// Sends the sentences finished since the last call as one utterance.
// everything: the rest of the text too (Speak); paused: a pause in typing
// finishes a sentence that ends in its full stop.
function sendTyped(at, everything, paused = false) {
  const pending = pendingTyped();
  let end = 0;
  for (const match of pending.matchAll(SENTENCE_END)) end = match.index + match[0].length;
  if (everything && (!paused || ENDS_SENTENCE.test(pending.trimEnd()))) end = pending.length;
  if (end === 0) return;
  const piece = pending.slice(0, end);
  typedSent += piece;
  if (!piece.trim()) return;
  if (tokenMissing()) return;
  if (!run || run.finished || run.connection.retired) startRun(at, true);
  sendUtterance(piece);
}

async function loadVoices() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let response;
  try {
    response = await fetch("v1/voices", { headers, cache: "no-store" });
  } catch (error) {
    announce(`Cannot reach the server: ${error.message}`);
    return false;
  }
  if (response.status === 401) return false;
  if (!response.ok) {
    announce(`The server could not list its voices (${response.status}).`);
    return true;
  }
  const { voices } = await response.json();
  const chosen = ui.voice.value;
  ui.voice.replaceChildren(
    ...voices.map((voice) => {
      const option = new Option(voice.language ? `${voice.id} (${voice.language})` : voice.id, voice.id);
      if (voice.sample_rate_hz) option.dataset.rateHz = String(voice.sample_rate_hz);
      return option;
    }),
  );
  if (voices.some((voice) => voice.id === chosen)) ui.voice.value = chosen;
  return true;
}

function askForToken(message) {
  ui.tokenForm.hidden = false;
  announce(message);
}

async function useToken(event) {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  if (await loadVoices()) {
    ui.token.value = "";
    ui.tokenForm.hidden = true;
    announce("Token accepted. Ready to speak.");
    ui.text.focus();
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    announce("The server did not accept that token.");
    ui.token.select();
  }
}

function showRate() {
  const rate = Number(ui.rate.value).toFixed(2);
  ui.rateValue.textContent = `${rate}×`;
  ui.rate.setAttribute("aria-valuetext", `${rate} times`);
}

async function start() {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    speak(event);
  });
  ui.stop.addEventListener("click", stop);
  ui.tokenForm.addEventListener("submit", useToken);
  ui.text.addEventListener("input", typed);
  ui.rate.addEventListener("input", showRate);
  ui.asYouType.addEventListener("change", () => {
    typedSent = ui.text.value;
    announce(
      ui.asYouType.checked
        ? "Each sentence will be spoken as soon as you finish typing it."
        : "Speak says the whole text.",
    );
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      speak(event);
    } else if (event.key === "Escape" && run && !run.finished) {
      event.preventDefault();
      stop(event);
    }
  });
  showRate();
  const needsToken = document.documentElement.dataset.tokenRequired === "true";
  if (needsToken && !sessionStorage.getItem(TOKEN_KEY)) {
    askForToken("This server needs its token: enter it under Server token.");
    return;
  }
  if (await loadVoices()) {
    announce("Ready. Press Speak, or Ctrl+Enter.");
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken("The server did not accept the saved token. Enter it again.");
  }
}

start();
