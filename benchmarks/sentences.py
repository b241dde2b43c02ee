"""Benchmark corpora, written for streamtts (short, medium, long sentences)."""

SHORT = [
    "Hello there.",
    "Turn left here.",
    "The door is open.",
    "Thanks, that helps.",
    "Is it raining now?",
]
MEDIUM = [
    "The next train to Boston leaves from platform four in ten minutes.",
    "Please remember to bring your passport and a printed copy of the ticket.",
    "I could not find the report you sent me, could you send it again?",
    "Our team finished the project two weeks earlier than we had planned.",
    "The weather will be sunny in the morning and cloudy by the evening.",
]
LONG = [
    "When the storm finally passed over the valley, the villagers walked out of their houses "
    "and looked at the broken fences, the flooded fields and the fallen trees.",
    "The committee reviewed every proposal that arrived before the deadline, and it selected "
    "the three projects that promised the greatest benefit to the local community.",
    "If you would like to change the delivery address for your order, please open the settings "
    "page, choose the shipping tab, and enter the new address before Friday.",
    "Scientists at the observatory reported that the comet will pass closer to the earth next "
    "spring than at any time during the last two hundred years.",
    "After a long day of meetings, phone calls and unexpected problems, she sat down by the "
    "window with a cup of tea and watched the city lights come on.",
]
GROUPS = {"short": SHORT, "medium": MEDIUM, "long": LONG}
