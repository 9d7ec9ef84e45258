"""Answering from a device: a key press → the decision on the wire.

- **permission**: a client process, standing in for Claude Code's ``http`` hook, POSTs
  a real PermissionRequest (a new command each time) to the local API of an Engine +
  HooksSource + ApiHost running in this process and waits for the held reply. A dummy
  Stream Deck here shows the request's keys; its Deny key is pressed through the
  streamdeck library's dummy transport (and, for an Allow, pressed a second time to
  confirm). The press is stamped as the library's reader thread hands it to the driver
  (the deck's USB poll before that is the deck's own rate, ``poll_hz``), the reply as
  the client process reads it: both ``time.monotonic_ns()``.
- **question**: PocketPaw's simulator here asks a question (event bus), the same deck
  shows its options, one is pressed; the stamp at the other end is the simulator
  having read the ``POST /api/v1/chat`` body.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure, percentile

MS = 1e6  # ns per ms
BUDGET_MS = 20.0

_CLIENT = r"""
import http.client, json, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
base = json.loads(sys.stdin.read())
stamps = []
for i in range(count):
    body = dict(base)
    body["tool_input"] = {"command": f"npm test -- --shard {i}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/hooks/claude", json.dumps(body).encode(),
                 {"Content-Type": "application/json"})
    reply = conn.getresponse().read()
    stamps.append(time.monotonic_ns())
    conn.close()
    print(json.dumps({"i": i, "t": stamps[-1], "reply": json.loads(reply)}), flush=True)
"""


class _Stamps:
    """Press stamps, taken where the reader thread hands a key to the driver."""

    def __init__(self) -> None:
        self.pressed: list[int] = []


def _stamping_deck(stamps: _Stamps) -> Any:
    from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions

    class StampingDeck(StreamDeckDriver):
        def _key_event(self, deck: Any, key: int, pressed: bool) -> None:
            if pressed:
                stamps.pressed.append(time.monotonic_ns())
            super()._key_event(deck, key, pressed)

    # Polled at 1 kHz: the figure is agentlight's path, not the deck's report rate.
    return StampingDeck("deck", StreamDeckOptions(dummy=True, poll_hz=1000))


async def _key(deck: Any, action: str, after: str = "", within: float = 5.0) -> tuple[int, str]:
    """The key showing ``action`` for a request other than ``after``, and that request."""
    found: list[tuple[int, str]] = []

    def shown() -> bool:
        found[:] = [
            (key, role.ask)
            for key, role in enumerate(deck.roles)
            if role.kind == "choice" and role.action == action and role.ask != after
        ]
        return bool(found)

    await _until(shown, within)
    return found[0]


async def _until(test: Any, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not test():  # noqa: ASYNC110 - state read off the deck, polled every 2 ms
            await asyncio.sleep(0.002)


def _tap(deck: Any, key: int) -> None:
    from devices.streamdeck.dummy import key_report

    deck.dummy_device.queue_report(key_report(deck.deck, {key}))
    deck.dummy_device.queue_report(key_report(deck.deck, set()))


async def _permissions(count: int, run_dir: Path) -> tuple[list[float], list[float]]:
    """(deny latencies, allow latencies) in ms: press → held hook's reply read."""
    from benchmarks.hooks import hooks_bridge, start_client

    stamps = _Stamps()
    deck = _stamping_deck(stamps)
    path = procs.ROOT / "tests" / "fixtures" / "hooks" / "claude" / "replies" / "request.json"
    deny: list[float] = []
    allow: list[float] = []
    async with hooks_bridge(deck, run_dir, transcripts=False) as (engine, source, port):
        client = await start_client(_CLIENT, port, count)
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(path.read_bytes())
        client.stdin.close()
        last = ""
        for i in range(count):
            allowing = i % 2 == 1
            # Allow: a first press arms it, the second (stamped) sends it.
            key, last = await _key(deck, "allow" if allowing else "deny", last)
            if allowing:
                _tap(deck, key)
                await _armed(engine)
                await asyncio.sleep(0.2)  # past the bounce guard, as a person's second press
            before = len(stamps.pressed)
            _tap(deck, key)
            line = json.loads(await asyncio.wait_for(client.stdout.readline(), 10))
            behavior = line["reply"]["hookSpecificOutput"]["decision"]["behavior"]
            assert behavior == ("allow" if allowing else "deny"), line
            ms = (line["t"] - stamps.pressed[before]) / MS
            (allow if allowing else deny).append(ms)
            # The tool ran: the session moves on, its keys go.
            ran = json.loads(path.read_text())
            ran.update(hook_event_name="PostToolUse", tool_input={"command": "x"})
            await source.handle("claude", ran)
        await client.wait()
    return deny, allow


async def _armed(engine: Any, within: float = 5.0) -> None:
    await _until(lambda: engine.desk.view().armed_on("deck") is not None, within)


async def _questions(count: int) -> list[float]:
    """Latencies in ms: press on an option → the chat message's body at the simulator."""
    from bridge.engine import Device, Engine
    from bridge.pipeline.theme import default_theme
    from bridge.simulator import SimAgent, SimServer
    from bridge.sources.pocketpaw.options import Options
    from bridge.sources.pocketpaw.source import PocketPawSource

    stamps = _Stamps()
    deck = _stamping_deck(stamps)
    agent = SimAgent()
    latencies: list[float] = []
    async with SimServer(agent, debounce=0.05, keepalive=5.0) as server:
        engine = Engine([Device(deck)], default_theme())
        source = PocketPawSource("pp", Options(url=server.url, events="on"), engine.publish)
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run([source], stop))
        try:
            await _until(lambda: source.events_live and deck.is_open, 10)
            for i in range(count):
                key_name = f"websocket:bench{i}"
                agent.agent_start(key_name)
                agent.ask_user_question(key_name, "Go on?", ["Yes", "No"])
                key, _ = await _key(deck, "answer:1")
                before = len(stamps.pressed)
                _tap(deck, key)
                message = await server.wait_for_chat(i + 1, 10)
                latencies.append((message.at * 1e9 - stamps.pressed[before]) / MS)
                agent.agent_end(key_name)
                agent.agent_start(key_name)  # the answer's run: the question is over
                agent.agent_end(key_name)
                await _until(lambda: not any(r.kind == "choice" for r in deck.roles))
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
    return latencies


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    count = 20 if quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir(mode=0o700)
        deny, allow = asyncio.run(_permissions(count, run_dir))
    questions = asyncio.run(_questions(count // 2))
    both = deny + allow

    def note(values: list[float], what: str) -> str:
        return f"{len(values)} {what}, median {statistics.median(values):.2f} ms, " + (
            f"max {max(values):.2f} ms"
        )

    figures = [
        Figure(
            "answers.permission.p99",
            "press → permission decision on the wire (held hook's reply), p99",
            percentile(both, 99),
            "ms",
            BUDGET_MS,
            note=note(both, "Deny presses and confirming Allow presses"),
        ),
        Figure(
            "answers.question.p99",
            "press → PocketPaw answer on the wire (POST /api/v1/chat), p99",
            percentile(questions, 99),
            "ms",
            BUDGET_MS,
            note=note(questions, "option presses"),
        ),
    ]
    return figures, {"deny_ms": deny, "allow_ms": allow, "question_ms": questions}


__all__ = ["run"]
