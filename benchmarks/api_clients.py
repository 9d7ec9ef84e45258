"""Event-stream clients of the local API in a process of their own, stamping what arrives.

``python -m benchmarks.api_clients PORT N LAST`` opens N connections to
``/v1/status/stream``, prints ``{"ready": N}`` once each has its first event, then
stamps (``time.monotonic_ns()``, one clock for every process on Linux) the arrival of
every event whose source detail reads ``change <n>``. When every client has seen
``change <LAST>``, it prints one JSON line:
``{"stamps": [[client, n, ns], ...]}``. Plain sockets, so the client side costs as
little as it can.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

_CHANGE = re.compile(rb'"detail":"change (\d+)"')


async def _client(
    port: int, index: int, ready: asyncio.Event, stamps: list[tuple[int, int, int]],
    last: int, done: asyncio.Event,
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /v1/status/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    buffer = b""
    first = True
    try:
        while True:
            data = await reader.read(65536)
            now = time.monotonic_ns()
            if not data:
                return
            buffer += data
            if first and b"\n\n" in buffer:
                first = False
                ready.set()
            # An event ends with a blank line; keep what is not complete yet.
            end = buffer.rfind(b"\n\n")
            if end < 0:
                continue
            complete, buffer = buffer[: end + 2], buffer[end + 2 :]
            for match in _CHANGE.finditer(complete):
                n = int(match.group(1))
                stamps.append((index, n, now))
                if n == last:
                    done.set()
                    return
    finally:
        writer.close()


async def main(port: int, count: int, last: int) -> None:
    stamps: list[tuple[int, int, int]] = []
    readies = [asyncio.Event() for _ in range(count)]
    dones = [asyncio.Event() for _ in range(count)]
    tasks = [
        asyncio.create_task(_client(port, i, readies[i], stamps, last, dones[i]))
        for i in range(count)
    ]
    for ready in readies:
        await ready.wait()
    print(json.dumps({"ready": count}), flush=True)
    async with asyncio.timeout(120):
        for done in dones:
            await done.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"stamps": stamps}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
