"""The demo walks through every state, each long enough to read, at any speed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bridge.commands import demo
from bridge.simulator import SimAgent
from bridge.simulator import tour as tour_mod
from bridge.simulator.tour import MIN_STEP, Tour, step_seconds
from harness.procs import read_records


@pytest.mark.parametrize("speed", [0.5, 1.0, 4.0, 100.0])
def test_every_step_is_long_enough_to_read_at_any_speed(speed: float) -> None:
    steps: list[float] = []

    async def sleep(seconds: float) -> None:
        steps.append(seconds)

    class Server:
        async def stop(self) -> None: ...
        async def start(self) -> None: ...
        def set_api_key(self, key: str | None) -> None: ...
        async def drop_streams(self) -> None: ...

    import asyncio

    asyncio.run(Tour(SimAgent(), Server(), speed=speed, sleep=sleep).once())  # type: ignore[arg-type]
    assert min(steps) >= MIN_STEP
    assert demo.tour_seconds(speed) == pytest.approx(sum(steps))


def test_step_seconds_scales_down_to_a_floor() -> None:
    assert step_seconds(3.0, 1.0) == 3.0
    assert step_seconds(3.0, 2.0) == MIN_STEP
    assert step_seconds(3.0, 0.5) == 6.0


def test_header_says_what_where_and_how_to_stop() -> None:
    line = demo.header("http://127.0.0.1:4242", 48.0)
    assert "\n" not in line
    assert "127.0.0.1:4242" in line
    assert len(line) <= 90
    assert "Ctrl-C" in line


async def test_a_round_shows_every_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real demo (server, tour, bridge, record device), with short steps.
    monkeypatch.setattr(tour_mod, "MIN_STEP", 0.4)
    monkeypatch.setattr(tour_mod, "MIN_OUTAGE_STEP", 1.5)
    record = tmp_path / "demo.jsonl"
    seconds = demo.tour_seconds(50.0)
    args = argparse.Namespace(
        speed=50.0, config=None, record=str(record), duration=seconds + 1.0
    )
    assert await demo.run_demo(args, seconds) == 0
    lines = read_records(record, finished=True)
    globals_seen = {line["global"] for line in lines}
    assert globals_seen >= {"idle", "active", "degraded", "disconnected", "auth_failed"}
    sessions = [s for line in lines for s in line["sessions"]]
    states = {s["state"] for s in sessions}
    assert states >= {"thinking", "tool_running", "streaming", "waiting_for_user", "error",
                      "unknown"}  # fmt: skip
    assert {s["tool"] for s in sessions} >= {"bash", "web_search", "read_file", "python"}
    out = capsys.readouterr().out
    assert out.startswith("agentlight demo: simulated PocketPaw on 127.0.0.1:")
    # It asks twice: PocketPaw's question with options, Claude Code's permission request;
    # the line names the request in focus with where to answer (the demo has no device).
    asks = {(a["kind"], a["tool"]): a for s in sessions if (a := s["ask"]) is not None}
    question, permission = asks[("question", None)], asks[("permission", "Bash")]
    assert [c["label"] for c in question["choices"]] == ["Yes, deploy", "Not yet"]
    assert [c["id"] for c in permission["choices"]] == ["allow", "always", "deny"]
    assert "Deploy the fixed script now? Yes, deploy / Not yet (answer it where" in out
    # A session with a title has it from the first line it appears in.
    titles = {s["key"]: s["title"] for s in sessions if s["title"]}
    first: dict[str, dict[str, object]] = {}
    for s in sessions:
        first.setdefault(s["key"], s)
    assert titles and all(first[key]["title"] == title for key, title in titles.items())


async def test_a_new_session_shows_its_title_in_its_first_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo up to its first session (the idle step, then "thinking").
    monkeypatch.setattr(tour_mod, "MIN_STEP", 0.4)
    record = tmp_path / "demo.jsonl"
    args = argparse.Namespace(speed=50.0, config=None, record=str(record), duration=1.5)
    assert await demo.run_demo(args, 1.5) == 0
    lines = read_records(record, finished=True)
    shown = [line["sessions"] for line in lines if line["sessions"]]
    assert shown, "the first session never showed"
    (session,) = shown[0]
    assert session["key"] == "websocket:demo-web-1"
    assert session["title"] == "Fix the flaky deploy script"


def test_a_config_with_only_devices_is_enough(tmp_path: Path) -> None:
    """`agentlight demo -c FILE` uses the file's devices, theme and answering rules, not its
    sources: a file with only a dummy deck (the README's way to see keys answer) will do."""
    path = tmp_path / "deck.toml"
    path.write_text(
        '[[devices]]\ntype = "streamdeck"\ndummy = true\n\n'
        '[answers]\nallow_from_device = "none"\n'
    )
    args = argparse.Namespace(speed=1.0, config=str(path), record=None, duration=1.0)
    config = demo.demo_config(args, {"type": "pocketpaw", "url": "http://127.0.0.1:1"})
    assert [d.type for d in config.devices] == ["streamdeck"]
    assert config.answers.allow_from_device == "none"
    assert [s.type for s in config.sources] == ["pocketpaw", "hooks"]
