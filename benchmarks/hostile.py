"""Each source under its worst legal input: SIGTERM → devices dark, and peak RSS (issue 30).

``agentlight run`` (a record device; each source with its default options, only the
server named) is fed the worst input its limits let through, for a while; then its
peak RSS (``VmHWM``) is read and SIGTERM sent. Figures per source: signal → the
record's final line (devices dark), signal → process exit, peak RSS. Budgets: 1 s,
1 s and 60 MB.

- ``pocketpaw``, the status stream: frames near ``max_frame_bytes`` (2 MiB) of 30,000
  minimal sessions, a change every 10 ms, so frame after frame is parsed.
- ``pocketpaw-bus``, the event bus (``events = "on"``): as fast as the simulator sends
  them, ``agent_start`` for new 256-character keys the status stream never confirms,
  tool errors and alerts on distinct keys (past the 256 failures kept), every tenth
  event padded to ~1.9 MB (under ``max_frame_bytes``).
- ``agp``: one listed session whose replies, like those of the 199 subagents it names
  (``max_sessions`` is 200), are ~1 MiB (``max_body_bytes``) of ~95,000 subagent IDs,
  polled every 3 s, 4 at once.
- ``mqtt``: 256 bridges (the origin cap) with retained ~0.6 MB statuses of 10,000
  sessions each (``status_from_json`` reads at most 10,000), then changes to them and
  new junk origins as fast as the broker takes them.
- ``hooks``: through the local API at its default rate (50 a second after a burst
  of 100; refused requests retried at once), 200 Claude sessions (``max_sessions``)
  each naming a transcript that grows by 256 KiB a second (what one poll reads at
  most) of lines that look like an interrupt and a token count, 32 permission
  requests held (``MAX_HELD``) and more asked, every body after the sessions' first
  ~60 KiB (``max_body`` is 64 KiB).

Everything but the bridge runs in this process (servers, broker client); the
broker is a real Mosquitto (the part is skipped without one).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure
from bridge.simulator import SimAgent, SimServer
from bridge.simulator.agp import AgpServer, SimAgp
from bridge.simulator.wire import Connection, Request, json_body
from harness.procs import terminate

# Feeds until the event is set: a cancel alone can be swallowed on Python 3.11 (a client's
# asyncio.timeout expiring as it arrives), and the feed would then run for good.
Feed = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

_NEVER = 1e6
_DARK_BUDGET = 1.0
_RSS_BUDGET_MB = 60.0


async def _until(check: Callable[[], object], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)


async def _bridge(
    tmp: Path,
    name: str,
    source: str,
    feed: Feed,
    settle: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run a bridge on ``source`` (TOML), feed it for ``settle`` s, stop it, measure."""
    record = tmp / f"{name}.jsonl"
    cfg = tmp / f"{name}.toml"
    cfg.write_text(
        f'[bridge]\nlog_level = "warning"\n\n{source}\n{procs.record_device(record)}',
        encoding="utf-8",
    )
    log = (tmp / f"{name}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *procs.agentlight_command(), "run", "-c", str(cfg),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        env=env,
    )  # fmt: skip
    feeding: asyncio.Task[None] | None = None
    stop = asyncio.Event()
    try:
        await _until(lambda: procs.read_records(record), 60)
        feeding = asyncio.create_task(feed(stop))
        await asyncio.sleep(settle)
        if feeding.done():
            feeding.result()  # a feed that failed is a broken benchmark, not a figure
        peak = procs.memory_kib(proc.pid).get("VmHWM", 0) / 1024
        sent_wall, sent = time.time(), time.monotonic()
        await terminate(proc, 20)
        exited = time.monotonic() - sent
    finally:
        stop.set()
        if feeding is not None:
            await asyncio.wait({feeding}, timeout=5)
            feeding.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    lines = procs.read_records(record)
    end = next((r for r in reversed(lines) if r.get("end")), None)
    dark = float(end["t"]) - sent_wall if end is not None else float("nan")
    # returncode: 0 when it exited on its own, negative when terminate() had to kill it.
    return {
        "dark_s": dark,
        "exit_s": exited,
        "returncode": proc.returncode,
        "peak_rss_mb": round(peak, 1),
        "lines": len(lines),
    }


# -- PocketPaw: the status stream ---------------------------------------------------------


async def pocketpaw(tmp: Path, settle: float) -> dict[str, Any]:
    agent = SimAgent()
    sessions = 30_000
    for i in range(sessions):
        agent.set_raw_session({"session_key": f"w:{i}", "state": "thinking"})
    async with SimServer(agent, debounce=0.0) as server:

        async def feed(stop: asyncio.Event) -> None:
            n = 0
            while not stop.is_set():
                state = ("tool_running", "thinking")[n % 2]
                agent.set_raw_session(
                    {"session_key": f"w:{n % sessions}", "state": state, "tool_name": "bash"}
                )
                n += 1
                await asyncio.sleep(0.01)

        source = f'[[sources]]\ntype = "pocketpaw"\nurl = "{server.url}"\nevents = "off"\n'
        return await _bridge(tmp, "pocketpaw", source, feed, settle)


# -- PocketPaw: the event bus --------------------------------------------------------------


async def bus(tmp: Path, settle: float) -> dict[str, Any]:
    agent = SimAgent()
    pad = "p" * 1_900_000
    async with SimServer(agent, debounce=_NEVER, keepalive=30.0) as server:

        async def feed(stop: asyncio.Event) -> None:
            n = 0
            while not stop.is_set():
                key = f"websocket:{n:0246d}"  # 256 characters, the longest accepted
                extra = {"pad": pad} if n % 10 == 0 else {}
                agent.publish("agent_start", {"session_key": key, **extra})
                agent.publish(
                    "tool_result",
                    {"session_key": key, "status": "error", "name": "bash",
                     "result": "r" * 600, **extra},
                )  # fmt: skip
                agent.publish(
                    "alert", {"severity": "error", "message": "m" * 600, "alert_type": f"t{n}"}
                )
                n += 1
                await asyncio.sleep(0.002 if extra else 0)

        source = f'[[sources]]\ntype = "pocketpaw"\nurl = "{server.url}"\nevents = "on"\n'
        return await _bridge(tmp, "pocketpaw-bus", source, feed, settle)


# -- AgP ---------------------------------------------------------------------------------------


class _HeavyAgp(AgpServer):
    """Answers from bodies encoded once: 67 MB/s of JSON costs the bridge, not this process."""

    def __init__(self, agp: SimAgp) -> None:
        super().__init__(agp)
        self.cached: dict[str, bytes] = {}

    async def _handle(self, conn: Connection, request: Request) -> bool:
        body = self.cached.get(request.path)
        if body is None:
            return await super()._handle(conn, request)
        self.requests[request.path] += 1
        await conn.respond(200, body, {"content-type": "application/json"})
        return True


async def agp(tmp: Path, settle: float) -> dict[str, Any]:
    agp = SimAgp()
    subagents = [f"s{i}" for i in range(1, 200)]
    ids = subagents + [f"x-{i:06}" for i in range(95_000)]  # ~1 MiB, under max_body_bytes
    body = json_body({"status": "running", "steps": 1, "subagent_session_ids": ids})
    assert len(body) <= 1024 * 1024, len(body)
    async with _HeavyAgp(agp) as server:
        for sid in ["p", *subagents]:
            agp.create(sid, "running")
            server.cached[f"/api/v2/sessions/{sid}/status"] = body

        async def feed(stop: asyncio.Event) -> None:
            await stop.wait()  # the bridge polls; nothing to push

        source = (
            f'[[sources]]\ntype = "agp"\nurl = "{server.url}"\napi_key = "bench-key"\n'
            'sessions = ["p"]\n'
        )
        result = await _bridge(tmp, "agp", source, feed, settle)
        result["requests"] = server.total_requests
        return result


# -- MQTT -------------------------------------------------------------------------------------


def _mqtt_status(n: int, state: str) -> bytes:
    doc = {
        "version": 1,
        "global": "active",
        "t": time.time(),
        "sessions": [{"source": "pp", "key": f"k{j}", "state": state} for j in range(n)],
        "sources": [{"name": "pp", "connection": "connected", "state": "active"}],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


async def mqtt(tmp: Path, settle: float) -> dict[str, Any] | None:
    from harness.mosquitto import Broker, mosquitto_binary

    if mosquitto_binary() is None:
        return None
    import aiomqtt

    (tmp / "broker").mkdir(exist_ok=True)
    broker = Broker(tmp / "broker")
    broker.start()
    try:
        bodies = [_mqtt_status(10_000, state) for state in ("thinking", "tool_running")]
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="hostile-pub") as client:
            for i in range(256):
                await client.publish(f"agentlight/b{i}/status", bodies[0], qos=0, retain=True)

            async def feed(stop: asyncio.Event) -> None:
                rng = random.Random(30)
                n = 0
                while not stop.is_set():
                    await client.publish(
                        f"agentlight/b{rng.randrange(256)}/status", bodies[n % 2], qos=0
                    )
                    await client.publish(f"agentlight/junk{n}/status", b"not a status", qos=0)
                    n += 1
                    await asyncio.sleep(0.01)

            source = f'[[sources]]\ntype = "mqtt"\nhost = "127.0.0.1"\nport = {broker.port}\n'
            return await _bridge(tmp, "mqtt", source, feed, settle)
    finally:
        broker.stop()


# -- hooks, through the local API -------------------------------------------------------------


async def hooks(tmp: Path, settle: float) -> dict[str, Any]:
    import httpx

    from bridge.sources.hooks.source import MAX_HELD
    from bridge.sources.hooks.transcript import MAX_READ
    from harness.mosquitto import free_port

    port = free_port()
    run_dir = tmp / "hooks-run"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    sessions = 200
    pad = "p" * 60_000
    look = json.dumps(
        {"type": "assistant", "message": {"content": "[Request interrupted by user",
                                          "usage": {"output_tokens": 1}}}
    ) + "\n"  # fmt: skip
    growth = (look * (MAX_READ // len(look))).encode()
    paths = [tmp / f"hooks-t{i}.jsonl" for i in range(sessions)]
    for path in paths:
        path.write_bytes(b"")
    sent = {"posts": 0, "refused": 0, "held": 0}

    async def feed(stop: asyncio.Event) -> None:
        headers = {"Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=MAX_HELD + 8)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers=headers,
            timeout=30,
            limits=limits,
            trust_env=False,
        ) as client:
            # The record's first line can come before the API listens.
            deadline = time.monotonic() + 20
            while True:
                try:
                    await client.get("/v1/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)

            async def post(payload: dict[str, Any]) -> None:
                while not stop.is_set():
                    reply = await client.post("/v1/hooks/claude", json=payload)
                    sent["posts"] += 1
                    if reply.status_code != 429:
                        return
                    sent["refused"] += 1
                    await asyncio.sleep(0.005)

            def payload(i: int, event: str, **more: Any) -> dict[str, Any]:
                return {"session_id": f"s{i:03}", "hook_event_name": event, "cwd": "/w",
                        "transcript_path": str(paths[i]), **more}  # fmt: skip

            async def grow() -> None:
                while not stop.is_set():
                    for path in paths:
                        with path.open("ab") as f:
                            f.write(growth)
                    await asyncio.sleep(1.0)

            held: list[asyncio.Task[None]] = []
            grower = asyncio.create_task(grow())
            try:

                async def start(first: int) -> None:
                    for i in range(first, sessions, 4):
                        await post(payload(i, "UserPromptSubmit", prompt="go"))

                await asyncio.gather(*(start(n) for n in range(4)))
                # Held on sessions shown (a request for one not shown is let go).
                for i in range(MAX_HELD):
                    ask = payload(i, "PermissionRequest", tool_name="Bash",
                                  tool_input={"command": f"make {i} {pad}"})  # fmt: skip
                    held.append(asyncio.create_task(post(ask)))
                    sent["held"] += 1

                async def flood(n: int) -> None:
                    while not stop.is_set():
                        i = n % sessions
                        if n % 2:
                            tool = {"command": f"{n} {pad}"}
                            await post(payload(i, "PreToolUse", tool_name=f"t{n}", tool_input=tool))
                        else:
                            ask = payload(i, "PermissionRequest", tool_name="Bash",
                                          tool_input={"command": f"{n} {pad}"})  # fmt: skip
                            await post(ask)
                        n += 4

                # Four at once: one client alone waits for each reply, below the rate.
                await asyncio.gather(*(flood(n) for n in range(4)))
            finally:
                grower.cancel()
                for task in held:
                    task.cancel()
                await asyncio.gather(grower, *held, return_exceptions=True)

    source = f'[api]\nlisten = "127.0.0.1:{port}"\n\n[[sources]]\ntype = "hooks"\n'
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
    result = await _bridge(tmp, "hooks", source, feed, settle, env=env)
    result.update(sent)
    return result


# -- the part -----------------------------------------------------------------------------------


async def _run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    settle = 3.0 if quick else 10.0
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        parts: list[tuple[str, str, Callable[[Path, float], Awaitable[dict[str, Any] | None]]]] = [
            ("pocketpaw", "PocketPaw status stream, 2 MiB frames", pocketpaw),
            ("pocketpaw_bus", "PocketPaw event bus flood", bus),
            ("agp", "AgP, 200 sessions of 1 MiB replies", agp),
            ("mqtt", "MQTT, 256 bridges of 10k sessions", mqtt),
            ("hooks", "hooks, API flood, 200 growing transcripts", hooks),
        ]
        for key, label, measure in parts:
            result = await measure(tmp, settle)
            if result is None:
                note = "mosquitto is not installed"
                figures.append(Figure(f"hostile.{key}.dark", f"SIGTERM → dark, {label}",
                                      None, "s", _DARK_BUDGET, note=note))  # fmt: skip
                details[key] = {"skipped": note}
                continue
            details[key] = result
            figures += [
                Figure(f"hostile.{key}.dark", f"SIGTERM → dark, {label}",
                       round(result["dark_s"], 3), "s", _DARK_BUDGET),
                Figure(f"hostile.{key}.exit", f"SIGTERM → exit, {label}",
                       round(result["exit_s"], 3), "s", _DARK_BUDGET),
                Figure(f"hostile.{key}.rss", f"peak RSS, {label}",
                       result["peak_rss_mb"], "MB", _RSS_BUDGET_MB),
            ]  # fmt: skip
    return figures, details


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    os.environ.pop("NO_COLOR", None)
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    from benchmarks.report import table

    found, detail = run(quick=False)
    print(table(found))
    print(json.dumps(detail, indent=2))


__all__ = ["agp", "bus", "hooks", "mqtt", "pocketpaw", "run"]
