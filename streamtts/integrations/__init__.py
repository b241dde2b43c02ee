"""Agent frameworks' doors: a Pipecat service and a LiveKit Agents plugin.

Both are thin shells over the conversation core, in process or remote:

- :mod:`.host`: the process's local speaker host (one trio thread, one
  loaded voice, the server's scheduler and admission; a session per
  plugin stream) and :class:`~.host.LocalChannel`, a session's asyncio side;
- :mod:`.remote`: :class:`~.remote.RemoteChannel`, the same conversation
  with ``streamtts serve`` over its WebSocket door;
- :mod:`.speech`: what both plugins use on the asyncio side: utterances
  as async iterators of audio (at the framework's rate), words (timed
  from the utterance's first sample, when heard) and how each ended;
- :mod:`.pipecat` (``streamtts[pipecat]``) and ``livekit.plugins.streamtts``
  (``streamtts[livekit]``): the shells.

Importing :mod:`streamtts` never imports this package, and this package
imports neither framework; only :mod:`.pipecat` imports Pipecat.
"""
