"""A voice agent's side of ``streamtts serve``'s WebSocket (``/v1/stream``).

    streamtts serve &
    python examples/websocket_client.py out.raw

Sends an LLM-like reply a few words at a time, prints each word as the
server sends its event (with the sample where it starts), interrupts after
two seconds of audio (barge-in), then says something else. Audio is s16le
mono at the rate the server announces (``aplay -f S16_LE -r 22050 out.raw``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import websockets

URL = os.environ.get("STREAMTTS_WS", "ws://127.0.0.1:8000/v1/stream")
REPLY = (
    "Sure! The museum opens at ten and closes at six, Tuesday through Sunday. "
    "Tickets cost fifteen dollars, and entry is free on the first Friday of the month."
)


async def main(path: str) -> None:
    headers = (
        {"Authorization": f"Bearer {os.environ['STREAMTTS_TOKEN']}"}
        if "STREAMTTS_TOKEN" in os.environ
        else {}
    )
    async with websockets.connect(URL, additional_headers=headers) as ws:
        ready = json.loads(await ws.recv())
        rate = ready["sample_rate_hz"]
        words = REPLY.split(" ")

        async def write_reply() -> None:
            for i in range(0, len(words), 3):  # as an LLM writes: a few words at a time
                await ws.send(
                    json.dumps({"type": "text", "text": " ".join(words[i : i + 3]) + " "})
                )
                await asyncio.sleep(0.05)

        writer = asyncio.create_task(write_reply())
        audio = bytearray()
        interrupted = False
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                audio += message
                if not interrupted and len(audio) >= 2 * 2 * rate:  # two seconds in
                    writer.cancel()
                    await ws.send(json.dumps({"type": "interrupt"}))
                    interrupted = True
                continue
            event = json.loads(message)
            if event["type"] == "word":
                print(f"{event['word']} @ {event['sample'] / rate:.2f} s", flush=True)
            elif event["type"] == "interrupted":
                print(f"-- interrupted after {event['last_word']}")
                break
            elif event["type"] in ("done", "error"):
                print(event)
                break
        await ws.send(json.dumps({"type": "text", "text": "Sorry, go ahead."}))
        await ws.send(json.dumps({"type": "end"}))
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                audio += message
            elif json.loads(message)["type"] in ("done", "error"):
                break
    with open(path, "wb") as out:
        out.write(audio)
    print(f"wrote {len(audio) // 2 / rate:.1f} s to {path}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "websocket.raw"))
