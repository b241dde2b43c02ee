"""Corpora written for the text front end, each text with what a listener
should hear (the reference for word error rate)."""

from __future__ import annotations

# Written forms espeak-ng (and so piper-tts) reads badly: (text, heard).
WRITTEN_FORMS = [
    ("The ticket costs $3.50 at the door.", "The ticket costs three dollars and fifty cents at the door."),
    ("Dinner for two was €120 in total.", "Dinner for two was one hundred twenty euros in total."),
    ("Pay £45 by Friday.", "Pay forty five pounds by Friday."),
    ("The project costs $2.5 billion.", "The project costs two point five billion dollars."),
    ("Her birthday is on 12/25/2023.", "Her birthday is on December twenty fifth, two thousand twenty three."),
    ("The meeting moved to 2024-03-15.", "The meeting moved to March fifteenth, two thousand twenty four."),
    ("Add 1/2 cup of sugar.", "Add one half cup of sugar."),
    ("Use 3/4 of the flour.", "Use three quarters of the flour."),
    ("He moved to St. Louis last spring.", "He moved to Saint Louis last spring."),
    ("Bring snacks, e.g. apples or nuts.", "Bring snacks, for example apples or nuts."),
    ("Read the docs at https://docs.python.org/3/library/.", "Read the docs at docs dot python dot org."),
    ("Mail support@example.com if it breaks.", "Mail support at example dot com if it breaks."),
    ("The site www.example.org has the form.", "The site example dot org has the form."),
    ("It was $19.99 on sale.", "It was nineteen dollars and ninety nine cents on sale."),
    ("We met on 3/14/2022 in Boston.", "We met on March fourteenth, two thousand twenty two in Boston."),
    ("Only 1/3 of the seats are left.", "Only one third of the seats are left."),
    ("Write to jane.doe@mail.example.com today.", "Write to jane dot doe at mail dot example dot com today."),
    ("The fee is £12.50 per month.", "The fee is twelve pounds and fifty pence per month."),
]  # fmt: skip

# Plain prose: the front end must change nothing here.
PROSE = [
    ("The weather will be sunny in the morning and cloudy by the evening.",) * 2,
    ("Please remember to bring your passport and a printed copy of the ticket.",) * 2,
    ("Our team finished the project two weeks earlier than we had planned.",) * 2,
    ("The next train to Boston leaves from platform four in ten minutes.",) * 2,
    ("I could not find the report you sent me, could you send it again?",) * 2,
    ("When the storm passed, the villagers walked out to look at the fields.",) * 2,
]

# LLM-style replies in markdown: (markdown, what a listener should hear).
LLM_MARKDOWN = [
    (
        "## Quick answer\nYes, you can. **Restart** the router, then wait *two* minutes.",
        "Quick answer. Yes, you can. Restart the router, then wait two minutes.",
    ),
    (
        "Here are three options:\n\n1. Take the **train**\n2. Rent a car\n3. Fly",
        "Here are three options: one, take the train. two, rent a car. three, fly.",
    ),
    (
        "- Flour\n- Sugar\n- Two eggs\n\nMix them well.",
        "Flour. Sugar. Two eggs. Mix them well.",
    ),
    (
        "You can read more in [the official guide](https://example.com/guide/setup).",
        "You can read more in the official guide.",
    ),
    (
        "Run `pip install requests` and then import it.",
        "Run pip install requests and then import it.",
    ),
    (
        "Here is an example:\n\n```python\nimport os\nprint(os.getcwd())\n```\n\nIt prints the folder.",
        "Here is an example: code block, two lines. It prints the folder.",
    ),
    (
        "| City | Temperature |\n|---|---|\n| Paris | 18 |\n| Rome | 24 |\n\nRome is warmer.",
        "Table, two rows. Rome is warmer.",
    ),
    (
        "Great question! 🎉 The answer is **forty two**.",
        "Great question! The answer is forty two.",
    ),
    (
        "### Summary\nThe plan costs $3.50 per user, due on 12/25/2023.",
        "Summary. The plan costs three dollars and fifty cents per user, due on December twenty fifth, two thousand twenty three.",
    ),
    (
        "> Be kind, for everyone you meet is fighting a hard battle.\n\nThat quote is often shared.",
        "Be kind, for everyone you meet is fighting a hard battle. That quote is often shared.",
    ),
    (
        "Contact us at support@example.com or visit https://www.example.org/help.",
        "Contact us at support at example dot com or visit example dot org.",
    ),
    (
        "**Step 1:** open the app.\n**Step 2:** tap *Settings*.",
        "Step one: open the app. Step two: tap settings.",
    ),
]  # fmt: skip
