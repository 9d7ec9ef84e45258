"""A REST poller like PocketPaw's own ``pocketpaw status --watch``: GET, show, sleep 2 s.

``python -m benchmarks.poller URL SECONDS`` polls until SECONDS have passed, then prints
one JSON line: every poll's answer time (``time.monotonic_ns()``, comparable with the
server process's stamps) and the tool its first session was running, plus the number
of requests. Its own process, so it competes with the bridge no more than a real one.
"""

from __future__ import annotations

import json
import sys
import time

import httpx

STATUS_PATH = "/api/v1/agent/status"
INTERVAL = 2.0


def poll(url: str, seconds: float) -> dict[str, object]:
    polls: list[tuple[int, str | None]] = []
    requests = 0
    start = time.monotonic()
    end = start + seconds
    with httpx.Client(base_url=url, timeout=5.0) as client:
        while time.monotonic() < end:
            requests += 1
            body = client.get(STATUS_PATH).json()
            seen = time.monotonic_ns()
            sessions = body.get("sessions") or []
            polls.append((seen, sessions[0].get("tool_name") if sessions else None))
            # `--watch` sleeps a fixed 2 s after each answer; so does this.
            time.sleep(INTERVAL)
    # Every request is followed by its 2 s sleep, so this is the request rate it keeps up.
    return {"polls": polls, "requests": requests, "elapsed": time.monotonic() - start}


if __name__ == "__main__":
    print(json.dumps(poll(sys.argv[1], float(sys.argv[2]))), flush=True)
