"""Use ``streamtts serve`` from the official ``openai`` Python SDK.

    streamtts serve &                                   # http://127.0.0.1:8000
    python examples/openai_client.py "Text to say." speech.pcm

``response_format="pcm"`` is 24 kHz, 16-bit, mono, as OpenAI defines it
(play it with ``aplay -f S16_LE -r 24000 -c 1 speech.pcm``); ``"wav"``
works too. Audio streams to the file as it is made. With ``--token`` on
the server, pass the same token as ``api_key``.
"""

from __future__ import annotations

import os
import sys

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("STREAMTTS_URL", "http://127.0.0.1:8000/v1"),
    api_key=os.environ.get("STREAMTTS_TOKEN", "not-needed-on-loopback"),
)
text = sys.argv[1] if len(sys.argv) > 1 else "Hello from the OpenAI SDK, spoken on this machine."
path = sys.argv[2] if len(sys.argv) > 2 else "speech.pcm"

with client.audio.speech.with_streaming_response.create(
    model="tts-1",  # any name: one model is served
    voice="alloy",  # OpenAI's voice names all map to the server's voice
    input=text,
    response_format="wav" if path.endswith(".wav") else "pcm",
) as response:
    response.stream_to_file(path)
print(f"wrote {path}")
