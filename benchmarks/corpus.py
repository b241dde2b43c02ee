"""Benchmark corpora written for streamtts: sentences, paragraphs, a token stream."""

from __future__ import annotations

import random

from sentences import GROUPS

SENTENCES = [s for group in GROUPS.values() for s in group] + [
    "Can you set a timer for ten minutes?",
    "The package was delivered to the front desk at noon.",
    "Remind me to call the dentist tomorrow morning.",
    "It is 72 degrees and sunny in San Diego right now.",
    "Your next meeting, with the design team, starts in fifteen minutes.",
]

PARAGRAPHS = [
    "The library opens at nine in the morning and closes at eight in the evening. On "
    "weekends it closes earlier, at five. Members can borrow up to ten books at a time, "
    "and renew them online twice. Late returns cost twenty-five cents a day.",
    "To reset your password, open the login page and choose the link below the form. "
    "You will receive an e-mail within a few minutes. Follow the instructions in it, and "
    "choose a password of at least twelve characters that you have not used before.",
    "Our quarterly results were better than expected. Revenue grew by 8.5%, driven by "
    "strong demand in Europe and Asia, while costs stayed flat. We expect the second "
    "half of the year to be slower, as two large contracts come to an end.",
]

LLM_REPLIES = [
    "Sure! Here is what I found. The museum is open from ten to six, Tuesday through "
    "Sunday, and tickets cost fifteen dollars for adults. On the first Friday of each "
    "month, entry is free after four p.m., so you may want to plan your visit then. "
    "Would you like me to add it to your calendar?",
    "The quickest way to the airport at this time of day is the express train from the "
    "central station, which leaves every fifteen minutes and takes about twenty-five "
    "minutes. A taxi would take longer because of the traffic on the bridge.",
]
LLM_REPLY = LLM_REPLIES[0]


def length_class(sentence: str) -> str:
    """Short (up to 5 words), medium (up to 15) or long: where the ratio to
    piper-tts lands depends on it, since piper-tts synthesizes the whole
    sentence before its first sample and streamtts only the first chunk."""
    words = len(sentence.split())
    if words <= 5:
        return "short"
    return "medium" if words <= 15 else "long"


def llm_tokens(text: str = LLM_REPLY, seed: int = 0) -> list[tuple[float, str]]:
    """(delay before the token in seconds, token) pairs, 20-40 ms apart."""
    rng = random.Random(seed)
    words = text.split(" ")
    return [
        (rng.uniform(0.02, 0.04), w + (" " if i < len(words) - 1 else ""))
        for i, w in enumerate(words)
    ]


def long_text(minutes: float) -> str:
    """Varied prose lasting roughly ``minutes`` of speech (the default voice
    says about 18 characters a second)."""
    rng = random.Random(minutes)
    pool = SENTENCES + [p for p in PARAGRAPHS]
    out, chars = [], 0
    while chars < minutes * 60 * 18:
        piece = rng.choice(pool)
        out.append(piece)
        chars += len(piece) + 1
    return " ".join(out)
