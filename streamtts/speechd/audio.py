"""Audio back to speech-dispatcher: the ``705 AUDIO`` framing and the sink
that sends it at the pace the server plays it.

speech-dispatcher plays a module's audio on its own output, with the marks
and events in order, as for its bundled modules.
"""

from __future__ import annotations

import numpy as np
import trio

from ..sinks.base import Sink
from ..sinks.wav import float_to_s16

__all__ = ["ServerAudio", "audio_message"]


def audio_message(samples: np.ndarray, rate_hz: int) -> bytes:
    """A ``705 AUDIO`` message: s16le samples for speech-dispatcher to play,
    newlines and escapes in the data HDLC-escaped as its module_process.c does."""
    data = float_to_s16(samples)
    escaped = data.replace(b"\x7d", b"\x7d\x5d").replace(b"\n", b"\x7d\x2a")
    header = (
        f"705-bits=16\n705-num_channels=1\n705-sample_rate={rate_hz}\n"
        f"705-num_samples={samples.size}\n705-big_endian=0\n705-AUDIO"
    ).encode()
    return header + b"\x00" + escaped + b"\n705 AUDIO\n"


# In small messages: speech-dispatcher starts playing a message once it has
# it whole, so a chunk's first 23 ms need not wait for its last.
_SERVER_AUDIO_SAMPLES = 512
# How far ahead of the server's playing the module sends. The server's
# reader thread blocks once its play queue holds MaxQueueSize samples
# (10000 by default, 0.45 s at 22.05 kHz), and while it is blocked it
# answers no client; a few blocks ahead keep it fed and never full.
_SERVER_LEAD_S = 0.15


class ServerAudio(Sink):
    """Audio to speech-dispatcher, which plays it (with the marks and events,
    in order) on its own output and reports each mark when it is reached.

    Sent at the pace it plays, ``lead_s`` ahead: the server holds little,
    so a STOP leaves little to discard and the server never stalls on a
    full queue. The pace restarts whenever the server must have run dry
    (an utterance's start, a pause in the text) and at every interrupt.
    A mark goes out between the messages around its place: each message
    counts as heard once sent, and the mark's task runs before the next.
    """

    def __init__(self, out: trio.MemorySendChannel[bytes], lead_s: float = _SERVER_LEAD_S) -> None:
        super().__init__()
        self.out = out
        self.lead_s = lead_s
        self._since = 0.0  # when the server started playing what we count
        self._sent_s = 0.0  # audio sent since then

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        rate = self.sample_rate_hz
        for start in range(0, samples.size, _SERVER_AUDIO_SAMPLES):
            piece = samples[start : start + _SERVER_AUDIO_SAMPLES]
            now = trio.current_time()
            ahead = self._since + self._sent_s - now
            if ahead <= 0.0:  # played out: a new run starts now
                self._since, self._sent_s = now, 0.0
            elif ahead > self.lead_s:
                await trio.sleep(ahead - self.lead_s)
            await self.out.send(audio_message(piece, rate))
            self._sent_s += piece.size / rate
            self.position.advance(int(piece.size))
            await trio.lowlevel.checkpoint()  # a mark reached here goes out now

    async def interrupt(self) -> None:
        self._since, self._sent_s = 0.0, 0.0  # the server drops what it holds
        await super().interrupt()
