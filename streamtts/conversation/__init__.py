"""The conversation every door holds: one set of rules, one core, one shell.

A door (Wyoming, the WebSocket, OpenAI's HTTP, speech-dispatcher, an agent
framework's plugin) parses its wire into the conversation's inputs
(:mod:`.inputs`) and writes its reports (:mod:`.outputs`) back. The rules
live once, in :class:`~.core.Conversation`, a sans-IO state machine built
as h11 and wsproto are built; what differs from door to door is declared
in its :class:`~.core.Rules`. :class:`~.shell.ConversationShell` is the
trio side every door shares; a :class:`~.shell.Speaker` (a server session,
the speech-dispatcher module's engine) speaks for it. Refusals are one
vocabulary (:mod:`.refusals`), checked in one place (:mod:`.requests`).
"""

from .core import Conversation, Rules
from .refusals import Refusal
from .requests import UtteranceRequest
from .shell import ConversationShell, Speaker, UtteranceControl

__all__ = [
    "Conversation",
    "ConversationShell",
    "Refusal",
    "Rules",
    "Speaker",
    "UtteranceControl",
    "UtteranceRequest",
]
