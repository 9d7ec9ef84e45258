"""Status bodies as PocketPaw writes them, shared by the server process and the scale bench.

Every frame names itself through the tool of its first session (``tool_name``), so the
receiving side can tell which frame a look came from, and consecutive frames always
differ (the driver would skip an equal frame).
"""

from __future__ import annotations

import json
from typing import Any

MIB = 1024 * 1024


def status(sessions: int, tag: str, *, title: str = "Benchmark session") -> dict[str, Any]:
    """A ``GET /api/v1/agent/status`` body with ``sessions`` sessions, all in tool_running."""
    rows = [
        {
            "session_key": f"websocket:bench-{i}",
            "session_id": f"bench-{i}",
            "channel": "websocket",
            "title": title,
            "state": "tool_running",
            "tool_name": tag if i == 0 else "bash",
            "duration_seconds": 1.5,
            "token_usage": {"input": 1200, "output": 300},
            "error_message": None,
        }
        for i in range(sessions)
    ]
    return {
        "global": {
            "state": "active" if rows else "idle",
            "active_sessions": len(rows),
            "max_concurrent": 5,
            "uptime_seconds": 3600,
        },
        "sessions": rows,
    }


def text(sessions: int, tag: str) -> str:
    # The real stream uses plain json.dumps (spaces after separators).
    return json.dumps(status(sessions, tag))


def sessions_for_size(size: int = MIB) -> int:
    """The fewest ordinary sessions that make a frame of at least ``size`` bytes."""
    low, high = 1, 1
    while len(text(high, "x0")) < size:
        low, high = high, high * 2
    while low < high:
        mid = (low + high) // 2
        if len(text(mid, "x0")) < size:
            low = mid + 1
        else:
            high = mid
    return high
