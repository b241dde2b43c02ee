"""A watch-class run kept from regressing: the small-device setting (int8
weights, one thread) on one core at half its speed plays in real time to
the test sound server with no underrun (``benchmarks/watch.py`` measures
it beside piper-tts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamtts import PiperVoice

from .conftest import has_sound
from .cpu_limit import available, limited

pytestmark = [pytest.mark.device, pytest.mark.slow]

CHILD = """
import json, trio
from streamtts import EngineOptions, SoundCardSink, VoiceOptions, open_engine

TEXT = (
    "The library opens at nine in the morning and closes at eight in the evening. "
    "On weekends it closes earlier, at five. Members can borrow up to ten books at "
    "a time, and renew them online twice."
)

async def main():
    sink = SoundCardSink(latency_s=0.2)
    options = EngineOptions(voice=VoiceOptions.small_device(), trim_lead_in=True)
    async with open_engine(sink=sink, options=options) as engine:
        result = await engine.say(TEXT)
        return {"underruns": sink.underruns, "underflows": sink.device_underflows,
                "audio_s": result.stats.audio_s, "ttfa_heard_s": result.stats.ttfa_heard_s}

print(json.dumps(trio.run(main)))
"""


@pytest.mark.skipif(not available(), reason="needs root and cgroups to limit the CPU")
@pytest.mark.skipif(not has_sound(), reason="needs a sound server")
def test_one_core_at_half_speed_plays_without_a_gap(
    int8_voice: PiperVoice, int8_cache: Path
) -> None:
    # The int8 parts are made (once, not under the quota) by the fixture.
    env = {**os.environ, "STREAMTTS_CACHE_DIR": str(int8_cache)}
    with limited(0.5) as prefix:
        child = subprocess.run(
            [*prefix, sys.executable, "-c", CHILD],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert child.returncode == 0, child.stderr[-3000:]
    played = json.loads(child.stdout.splitlines()[-1])
    print(f"\nwatch-class: {played}")
    assert played["audio_s"] > 8.0
    assert played["underruns"] == 0 and played["underflows"] == 0, played
