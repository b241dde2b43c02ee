"""streamtts inside an asyncio application (trio guest mode).

python examples/asyncio_app.py [out.wav]
"""

from __future__ import annotations

import asyncio
import sys

from streamtts import AsyncioEngine, FileSink


async def main() -> None:
    sink = FileSink(sys.argv[1]) if len(sys.argv) > 1 else None
    async with AsyncioEngine(sink=sink) as tts:
        result = await tts.say("Hello from an asyncio program.")
        print(f"spoken: {result.stats.audio_s:.2f} s, ttfa {result.stats.ttfa_s:.3f} s")
        long_task = asyncio.create_task(tts.say("This sentence is cut short by a barge in."))
        await asyncio.sleep(1.0)
        await tts.interrupt()
        print(f"interrupted: {(await long_task).interrupted}")


if __name__ == "__main__":
    asyncio.run(main())
