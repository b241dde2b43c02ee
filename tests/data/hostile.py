"""Hostile inputs: what the world feeds a screen reader or an assistant.

Each entry is (name, text, expect) with expect one of:
  "speech"   there are words to say
  "nothing"  nothing pronounceable: no audio, and the CLI says so
"""

from __future__ import annotations

import random

_rng = random.Random(20261122)
_garbage = bytes(_rng.randrange(256) for _ in range(3000)).decode("latin-1")

# 20,000 characters of words with no punctuation: 4,000 words on one line.
_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
LONG_LINE = " ".join(_WORDS[i % len(_WORDS)] for i in range(4000))[:20000]

HOSTILE: list[tuple[str, str, str]] = [
    ("empty", "", "nothing"),
    ("space", " ", "nothing"),
    ("whitespace mix", " \t\n\r\f\v  \u00a0\u2003\u3000", "nothing"),
    ("only periods", "." * 5000, "nothing"),
    ("punctuation soup", "?!?!...;;::,,--()[]{}", "nothing"),
    ("only commas", ", , , , , ,", "nothing"),
    ("ellipses", "… … … …", "nothing"),
    ("quotes only", "\"\" '' “” ‘’ «»", "nothing"),
    ("dashes", "— – - — – -", "nothing"),
    ("zero width only", "\u200b\u200c\u200d\ufeff\u2060", "nothing"),
    ("control characters only", "\x01\x02\x03\x04\x1b\x7f", "nothing"),
    ("nul only", "\x00\x00\x00", "nothing"),
    ("bidi marks only", "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2069", "nothing"),
    ("emoji", "😀🎉👍🏽", "speech"),
    ("emoji zwj family", "👨\u200d👩\u200d👧\u200d👦 and 🏳️\u200d🌈", "speech"),
    ("flags", "🇺🇸🇯🇵🇫🇷", "nothing"),  # espeak-ng has no names for regional indicators
    ("emoji sentence", "I love 🍕 and 🍣, don't you? 😋", "speech"),
    ("mixed scripts", "Hello мир, 你好 world, مرحبا, שלום, नमस्ते.", "speech"),
    ("right to left", "مرحبا بالعالم. هذا اختبار.", "speech"),
    ("hebrew with marks", "\u202bשלום עולם\u202c and back.", "speech"),
    ("cjk only", "这是一个测试。東京は大きい！", "speech"),
    ("korean", "안녕하세요, 세계.", "speech"),
    ("greek", "Γειά σου Κόσμε.", "speech"),
    ("combining marks", "Z̴̡̛a̸̢l̶g̵o̷ ̶t̴e̵x̸t̷ here.", "speech"),
    ("zero width inside words", "ze\u200bro wi\u200dth jo\u200cin\ufefferS.", "speech"),
    ("soft hyphens", "ex\u00adtra\u00adordi\u00adnary", "speech"),
    ("control chars inside", "Hello\x00 wor\x07ld\x1b[31m red\x1b[0m.", "speech"),
    ("tabs and form feeds", "One\ttwo\fthree\vfour.", "speech"),
    ("crlf lines", "Line one\r\nLine two\r\n\r\nLine three", "speech"),
    ("lone surrogates", "Broken \ud800 text \udfff here.", "speech"),
    ("private use", "\ue000\uf8ff text after private use.", "speech"),
    ("replacement chars", "\ufffd\ufffd decoding failed \ufffd.", "speech"),
    ("40 digit number", "1234567890123456789012345678901234567890", "speech"),
    ("huge decimal", "3.14159265358979323846264338327950288419716939937510", "speech"),
    ("many numbers", " ".join(str(_rng.randrange(10**9)) for _ in range(60)), "speech"),
    ("negative and exponents", "-1e308 and 6.02e23 and 0x7fffffff.", "speech"),
    ("dates and times", "2024-02-30T25:61:61Z; 31/31/2031 at 99:99.", "speech"),
    ("currency soup", "$$$ €€€ ¥¥¥ £1,000,000.00!", "speech"),
    ("html tags", "<p>Hello <b>bold</b> &amp; <i>italic</i></p><br/>", "speech"),
    (
        "ssml looking",
        '<speak><break time="3s"/><prosody rate="x-fast">Hi</prosody></speak>',
        "speech",
    ),
    ("script tag", "<script>alert('x')</script> Safe text.", "speech"),
    ("markdown", "# Title\n\n* **bold** _it_ `code` [link](http://x.y)\n> quote", "speech"),
    ("json", '{"key": [1, 2, {"nested": null}], "ok": true}', "speech"),
    ("code", "def f(x):\n    return x ** 2  # square\n", "speech"),
    ("unbalanced quotes", "He said \"yes and then 'no and (maybe [never.", "speech"),
    ("unbalanced brackets", "((((((((((deep))))) and ]]]] [[[[", "speech"),
    ("url soup", "http://a.b/c?d=e&f=g#h https://x.y.z/ www.q.r mailto:a@b.c", "speech"),
    ("email list", "a@b.co, c.d+e@f-g.io; h_i@j.k", "speech"),
    ("path", "/usr/local/bin/../lib/./python3.11/site-packages", "speech"),
    ("all caps shouting", "THIS IS ALL CAPS AND VERY LOUD!!!", "speech"),
    ("repeated letters", "a" * 3000, "speech"),
    ("repeated word", "buffalo " * 400, "speech"),
    ("no punctuation 100k", ("word " * 20000)[:100000], "speech"),
    ("single 20k token", "x" * 20000, "speech"),
    ("thousands of periods between words", "Hi" + "." * 3000 + "there", "speech"),
    ("newlines only between words", "a\n" * 500, "speech"),
    ("list without periods", "- milk\n- eggs\n- bread\n- butter", "speech"),
    ("binary garbage as latin-1", _garbage, "speech"),
    ("latin-1 mojibake", "CafÃ© crÃ¨me Ã  la franÃ§aise.", "speech"),
    ("math symbols", "∀x∈ℝ, ∃y: x² + y² ≤ ∞ ∴ ∑∫∂√π.", "speech"),
    ("box drawing", "┌──┐ │hi│ └──┘", "speech"),
    ("fullwidth latin", "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ．", "speech"),
    ("ligatures and superscripts", "ﬁne ﬂow x² H₂O ™ ©.", "speech"),
    ("very long sentence", "This clause, " * 300 + "ends.", "speech"),
]
