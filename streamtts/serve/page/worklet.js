// The page's player: an AudioWorkletProcessor holding a small jitter buffer.
//
// The page feeds it float32 samples at the voice's rate through its port; it
// keeps them in a fixed ring, starts playing once START_S of audio is buffered
// (or the page says no more is coming; after a gap, twice as much as before),
// resamples linearly when the context runs at another rate, and reports how
// many samples it has played, so the page highlights the word the listener is
// hearing, not the one the network has delivered. "clear" empties the ring at
// once; what was playing fades out over 5 ms (from a copy), so a stop does
// not click.
//
// Messages in:  {type: "configure", inputRateHz}
//               {type: "samples", samples: Float32Array}
//               {type: "drain"}   (no more samples are owed: play out what is here)
//               {type: "more"}    (more samples are owed again: buffer before playing)
//               {type: "clear", epoch}
// Messages out: {type: "position" | "started" | "idle", epoch, played, buffered,
//                received, underruns}: "started" when sound starts after silence,
//                "idle" when a drained buffer has played out, "position" between.
//                played: input samples played since the last clear.

const CAPACITY = 1 << 17; // input samples (~6 s at 22.05 kHz) unless the page says; a power of two
const START_S = 0.08; // buffered before playing: absorbs network and scheduling jitter
const MOST_START_S = 0.64; // after each gap the start target doubles, up to this
const FADE_S = 0.005; // the fade after a clear
const REPORT_QUANTA = 2; // a position report every 2 render quanta (~6-12 ms)

class StreamPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { inputRateHz, capacity = CAPACITY, epoch = 0 } = options.processorOptions;
    this.ring = new Float32Array(capacity);
    this.mask = capacity - 1; // the page never has more than capacity samples in the ring
    this.read = 0; // absolute index of the next input sample to play
    this.write = 0; // absolute index one past the last sample received
    this.frac = 0; // position between read and read + 1, when resampling
    this.clearedAt = 0; // read index at the last clear
    this.epoch = epoch; // the page's count of clears
    this.received = 0; // every sample ever received (the tests' hook reads it)
    this.underruns = 0;
    this.playing = false;
    this.draining = false;
    this.tail = new Float32Array(4096); // what the fade after a clear plays
    this.tailLength = 0;
    this.tailAt = 0; // position in tail, fractional when resampling
    this.fade = 0; // output frames of the fade still to play
    this.quanta = 0;
    this.configure(inputRateHz);
    this.port.onmessage = (event) => this.receive(event.data);
  }

  configure(inputRateHz) {
    this.step = inputRateHz / sampleRate; // input samples per output frame
    this.startSamples = Math.round(START_S * inputRateHz);
    this.mostStartSamples = Math.round(MOST_START_S * inputRateHz);
    this.target = this.startSamples;
    this.fadeFrames = Math.max(1, Math.round(FADE_S * sampleRate));
  }

  receive(message) {
    switch (message.type) {
      case "samples":
        this.append(message.samples);
        this.report();
        break;
      case "drain":
        this.draining = true;
        if (!this.playing && this.write === this.read) {
          this.draining = false;
          this.report("idle"); // nothing left to play
        }
        break;
      case "more":
        this.draining = false;
        break;
      case "clear":
        this.clear(message.epoch);
        this.report();
        break;
      case "configure":
        this.configure(message.inputRateHz);
        break;
    }
  }

  append(samples) {
    // The page never sends more than there is room for; if it did, the excess is dropped.
    const capacity = this.ring.length;
    const n = Math.min(samples.length, capacity - (this.write - this.read));
    const at = this.write & this.mask;
    const first = Math.min(n, capacity - at);
    this.ring.set(samples.subarray(0, first), at);
    if (n > first) this.ring.set(samples.subarray(first, n), 0);
    this.write += n;
    this.received += samples.length;
  }

  clear(epoch) {
    if (this.playing) {
      // Keep just what the fade needs; the ring is free for the next epoch now.
      const wanted = Math.ceil(this.fadeFrames * this.step) + 2;
      this.tailLength = Math.min(this.write - this.read, wanted, this.tail.length);
      for (let i = 0; i < this.tailLength; i++) {
        this.tail[i] = this.ring[(this.read + i) & this.mask];
      }
      this.tailAt = this.frac;
      this.fade = this.fadeFrames;
    }
    this.epoch = epoch;
    this.read = this.write;
    this.clearedAt = this.write;
    this.frac = 0;
    this.playing = false;
    this.draining = false;
    this.target = this.startSamples;
  }

  report(type = "position") {
    this.port.postMessage({
      type,
      epoch: this.epoch,
      played: this.read - this.clearedAt,
      buffered: this.write - this.read,
      received: this.received,
      underruns: this.underruns,
    });
  }

  // The fade after a clear, into out from frame 0; returns the frames written.
  renderFade(out) {
    let i = 0;
    for (; i < out.length && this.fade > 0; i++) {
      const at = Math.floor(this.tailAt);
      if (at >= this.tailLength) break;
      const a = this.tail[at];
      const b = at + 1 < this.tailLength ? this.tail[at + 1] : a;
      out[i] = (a + (b - a) * (this.tailAt - at)) * (this.fade / this.fadeFrames);
      this.fade -= 1;
      this.tailAt += this.step;
    }
    if (i < out.length) this.fade = 0; // done, or out of samples to fade
    return i;
  }

  // Plays from the ring into out from frame `from`; returns the next free frame.
  render(out, from) {
    const ring = this.ring;
    const mask = this.mask;
    let i = from;
    for (; i < out.length; i++) {
      const available = this.write - this.read;
      if (available < 1) break;
      // Interpolating needs the next sample too, unless this is the very end.
      if (this.frac > 0 && available < 2 && !this.draining) break;
      const a = ring[this.read & mask];
      const b = available > 1 ? ring[(this.read + 1) & mask] : a;
      out[i] = a + (b - a) * this.frac;
      this.frac += this.step;
      const whole = Math.floor(this.frac);
      this.read = Math.min(this.read + whole, this.write);
      this.frac -= whole;
    }
    return i;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    if (this.fade > 0) {
      i = this.renderFade(out);
      if (this.fade === 0) this.report(); // silent now
    } else {
      if (!this.playing) {
        const buffered = this.write - this.read;
        if (buffered > 0 && (buffered >= this.target || this.draining)) {
          this.playing = true;
          this.report("started");
        }
      }
      if (this.playing) {
        i = this.render(out, 0);
        if (i < out.length) {
          this.playing = false;
          if (this.draining) {
            this.draining = false;
            this.report("idle"); // the utterance has played out
          } else {
            this.underruns += 1; // the network is late: buffer more before going on
            this.target = Math.min(this.target * 2, this.mostStartSamples);
          }
        }
      }
    }
    out.fill(0, i);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.quanta += 1;
    if (this.playing && this.quanta % REPORT_QUANTA === 0) this.report();
    return true;
  }
}

registerProcessor("streamtts-player", StreamPlayer);
