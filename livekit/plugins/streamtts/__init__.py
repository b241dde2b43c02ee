"""streamtts for LiveKit Agents: on-device streaming TTS with word timestamps.

::

    from livekit.plugins import streamtts

    session = AgentSession(stt=..., llm=..., tts=streamtts.TTS())   # the voice, in this process
    tts = streamtts.TTS(url="ws://tts-box:8000", token="s3cret")     # or a `streamtts serve`

Shipped inside the ``streamtts`` distribution (``pip install
'streamtts[livekit]'``); ``livekit`` and ``livekit.plugins`` stay namespace
packages. Import it on the main thread, as every LiveKit plugin.
"""

from __future__ import annotations

import logging

from livekit.agents import Plugin

from .tts import TTS, ChunkedStream, SynthesizeStream
from .version import __version__

__all__ = ["TTS", "ChunkedStream", "SynthesizeStream", "__version__"]

logger = logging.getLogger("livekit.plugins.streamtts")


class StreamttsPlugin(Plugin):
    def __init__(self) -> None:
        super().__init__(__name__, __version__, __package__, logger)


Plugin.register_plugin(StreamttsPlugin())
