"""Scale: CPU time to turn one frame into what a device is handed, by frame size.

Per frame: ``parse_status`` → ``AgentStatus.fold`` → ``Mapper.map`` → ``frame_for`` (the
work the bridge does per stream frame, minus the network). ``json.loads`` is timed
apart, since it is the standard library's cost and not the bridge's. Consecutive
frames alternate, so every one is a real change (``previous`` and the mapper's memory
are exercised the way the stream exercises them).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from benchmarks import payloads
from benchmarks.report import Figure
from bridge.pipeline.mapping import Mapper, frame_for
from bridge.pipeline.model import AgentStatus, ConnectionState, SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.sources.pocketpaw.options import Options
from bridge.sources.pocketpaw.parse import parse_capped


def _per_frame_us(
    texts: list[str], seconds: float, max_sessions: int | None = None
) -> tuple[float, float]:
    """Median µs per frame for (json.loads, parse+map+frame), over ~``seconds`` of work."""
    datas: list[Any] = [json.loads(t) for t in texts]
    mapper = Mapper(default_theme())
    previous = None

    def one(i: int) -> None:
        nonlocal previous
        now = time.time()
        snapshot, _ = parse_capped(
            datas[i % len(datas)],
            source="pocketpaw",
            received_at=now,
            previous=previous,
            max_sessions=max_sessions,
        )
        previous = snapshot
        status = AgentStatus.fold((SourceStatus("pocketpaw", ConnectionState.CONNECTED, snapshot),))
        mapped = mapper.map(status, time.monotonic())
        frame_for("bench", mapped, time.monotonic(), with_sessions=True)

    # Size the batches so each takes ~50 ms, then take the median of the batches.
    start = time.perf_counter()
    one(0)
    single = max(time.perf_counter() - start, 1e-6)
    batch = max(2, int(0.05 / single))
    rounds = max(3, int(seconds / (batch * single)))
    work, loads = [], []
    for r in range(rounds):
        t0 = time.perf_counter_ns()
        for i in range(batch):
            one(r * batch + i)
        work.append((time.perf_counter_ns() - t0) / batch / 1000)
        t0 = time.perf_counter_ns()
        for i in range(batch):
            json.loads(texts[i % len(texts)])
        loads.append((time.perf_counter_ns() - t0) / batch / 1000)
    return statistics.median(loads), statistics.median(work)


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    seconds = 0.3 if quick else 1.5
    mib = payloads.sessions_for_size()
    cases = [(1, "1 session"), (100, "100 sessions"), (1000, "1,000 sessions")]
    cases.append((mib, f"1 MiB frame ({mib:,} sessions)"))
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for sessions, name in cases:
        texts = [payloads.text(sessions, "a"), payloads.text(sessions, "b")]
        loads_us, work_us = _per_frame_us(texts, seconds)
        key = "mib" if sessions == mib else str(sessions)
        details[key] = {
            "sessions": sessions,
            "bytes": len(texts[0]),
            "json_loads_us": loads_us,
            "parse_map_us": work_us,
        }
        figures.append(
            Figure(
                f"scale.{key}",
                f"parse + map + frame, {name}",
                work_us,
                "µs",
                note=f"{len(texts[0]):,} B; json.loads adds {loads_us:,.0f} µs",
            )
        )
    # Issue 21: a hostile frame listing 40,000 sessions under the 2 MiB cap. The session
    # cap (max_sessions, default 1,000) bounds the work whatever a server lists.
    cap = Options().max_sessions
    flood = [_flood_text(40_000, "a"), _flood_text(40_000, "b")]
    loads_us, work_us = _per_frame_us(flood, seconds, max_sessions=cap)
    details["flood"] = {
        "sessions": 40_000,
        "bytes": len(flood[0]),
        "json_loads_us": loads_us,
        "parse_map_us": work_us,
    }
    figures.append(
        Figure(
            "scale.flood",
            f"json + parse + map + frame, 40,000-session flood (max_sessions {cap:,})",
            (loads_us + work_us) / 1000,
            "ms",
            FLOOD_BUDGET_MS,
            note=f"{len(flood[0]):,} B, json.loads {loads_us / 1000:,.1f} ms of it",
        )
    )
    return figures, details


# One frame may cost this much at most, so a stop or the next frame never waits long.
FLOOD_BUDGET_MS = 100.0


def _flood_text(sessions: int, tag: str) -> str:
    rows = [{"session_key": f"w:{tag}{i}", "state": "thinking"} for i in range(sessions)]
    return json.dumps({"global": {"state": "active"}, "sessions": rows})
