"""The discovery file (written, removed, ignored when stale), ``agentlight status`` finding a
running bridge by it, and the API's cost with 200 idle event streams, all on the real
``agentlight`` command started as users start it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.api import discovery
from bridge.infra.secret import Secret
from bridge.simulator import SimAgent, SimServer
from tests.api_rig import SseReader, api_rig
from tests.bridge_proc import agentlight, environ, running_bridge
from tests.frames import make_source

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


# -- the file on its own -----------------------------------------------------------


def test_the_file_is_written_whole_for_this_user_only(tmp_path: Path) -> None:
    path = tmp_path / "run" / "agentlight" / "api.json"
    discovery.write(path, "http://127.0.0.1:8737", Secret("tok-0123456789abcdef"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data == {
        "api": 1,
        "url": "http://127.0.0.1:8737",
        "pid": os.getpid(),
        "version": data["version"],
        "token": "tok-0123456789abcdef",
    } | ({"started": data["started"]} if "started" in data else {})
    assert ("started" in data) == Path("/proc/self/stat").exists()
    assert [p.name for p in path.parent.iterdir()] == ["api.json"]  # no temporary left
    found = discovery.read(path)
    assert found is not None and found.token == Secret("tok-0123456789abcdef")


def test_a_directory_others_may_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(OSError, match="other users"):
        discovery.write(shared / "api.json", "http://127.0.0.1:1", None)
    assert not (shared / "api.json").exists()


def test_only_the_bridge_that_wrote_it_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    discovery.write(path, "http://127.0.0.1:1", None, pid=os.getpid() + 1)
    discovery.remove(path)
    assert path.exists()  # another bridge's
    discovery.write(path, "http://127.0.0.1:1", None)
    discovery.remove(path)
    assert not path.exists()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{not json",
        '{"api": 1, "url": "file:///etc/passwd", "pid": 1}',
        '{"api": 1, "url": "http://127.0.0.1:1", "pid": true}',
        '{"api": 1, "url": "http://127.0.0.1:1", "pid": -4}',
        '{"url": "http://127.0.0.1:1", "pid": 1}',
    ],
)
def test_a_malformed_file_is_no_bridge(tmp_path: Path, text: str) -> None:
    path = tmp_path / "api.json"
    path.write_text(text)
    assert discovery.read(path) is None


def test_where_the_file_lives() -> None:
    assert discovery.runtime_dir({"RUNTIME_DIRECTORY": "/run/agentlight"}) == Path(
        "/run/agentlight"
    )
    assert discovery.runtime_dir(
        {"RUNTIME_DIRECTORY": "/run/a:/run/b", "XDG_RUNTIME_DIR": "/run/user/1000"}
    ) == Path("/run/a")
    assert discovery.runtime_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path(
        "/run/user/1000/agentlight"
    )
    if sys.platform.startswith("linux"):
        fallback = discovery.runtime_dir({})
        assert fallback.name == f"agentlight-{os.getuid()}"
        # A desktop user finds the system service too.
        assert discovery.search_paths({"XDG_RUNTIME_DIR": "/run/user/1000"}) == [
            Path("/run/user/1000/agentlight/api.json"),
            Path("/run/agentlight/api.json"),
        ]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid names no process now
    return proc.pid


def test_a_file_whose_bridge_is_gone_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "SYSTEM_DIR", tmp_path / "system")
    run = tmp_path / "run"
    path = run / "agentlight" / "api.json"
    discovery.write(path, "http://127.0.0.1:1", None, pid=dead_pid())
    assert discovery.read(path) is not None
    assert discovery.find({"XDG_RUNTIME_DIR": str(run)}) is None
    # The system service's file is next in line.
    discovery.write(tmp_path / "system" / "api.json", "http://127.0.0.1:2", None)
    found = discovery.find({"XDG_RUNTIME_DIR": str(run)})
    assert found is not None and found.url == "http://127.0.0.1:2"
    discovery.write(path, "http://127.0.0.1:1", None)
    found = discovery.find({"XDG_RUNTIME_DIR": str(run)})
    assert found is not None and found.pid == os.getpid()


# -- the real command ------------------------------------------------------------------


def write_config(path: Path, url: str, api: str = "[api]\nlisten = \"127.0.0.1:0\"\n") -> Path:
    path.write_text(
        '[bridge]\nlog_level = "info"\n\n'
        f'[[sources]]\ntype = "pocketpaw"\nurl = "{url}"\nevents = "off"\nreconnect_min = 0.05\n\n'
        '[[devices]]\ntype = "record"\npath = "record.jsonl"\n\n' + api
    )
    return path


async def run_command(run: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *agentlight(*args),
        env=environ(run),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_the_file_lives_as_long_as_the_bridge_and_status_finds_it(tmp_path: Path) -> None:
    agent = SimAgent()
    agent.agent_start("websocket:abc", "Fix the build")
    agent.tool_start("websocket:abc", "bash")
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    path = run / "agentlight" / "api.json"
    async with SimServer(agent, debounce=0.01) as server:
        config = write_config(tmp_path / "config.toml", server.url)
        async with running_bridge(config, run) as proc:
            found = discovery.read(path)
            assert found is not None
            assert found.pid == proc.pid
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert found.token is not None  # the run's own, for presses
            # Found by itself: no -c, no --url (the same output as asking the agent).
            line = "--format={label}|{sessions}|{tool}|{title}"
            code, via_api = await run_command(run, "status", line)
            code_direct, direct = await run_command(run, "status", "-c", str(config), line)
            assert (code, via_api) == (code_direct, direct)
            assert (code, via_api) == (0, "running bash|1|bash|Fix the build\n")
            code, doc = await run_command(run, "status", "--json")
            assert json.loads(doc)["sessions"][0]["tool"] == "bash"
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                assert await proc.wait() == 0
        assert not path.exists()


async def test_status_ignores_a_stale_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    async with api_rig(tmp_path) as rig:
        rig.publish(make_source("pp", "active", [("websocket:stale-one", "thinking")]))
        # A live API, but the file says its bridge is gone: it must not be used.
        discovery.write(run / "agentlight" / "api.json", rig.url, None, pid=dead_pid())
        _, out = await run_command(
            run, "status", "--timeout", "0.5", "--url", "http://127.0.0.1:9", "--format={sessions}"
        )
        assert "stale-one" not in out
        _, out = await run_command(run, "status", "--timeout", "0.5", "--format={focus}")
        assert "stale-one" not in out
        discovery.write(run / "agentlight" / "api.json", rig.url, None)
        _, out = await run_command(run, "status", "--format={focus}")
        assert "stale-one" in out


@linux_only
async def test_200_idle_event_streams_cost_little_memory(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    async with SimServer(SimAgent(), debounce=0.01) as server:
        # Room for 200 at once from one address (the rate limit counts them too).
        api = '[api]\nlisten = "127.0.0.1:0"\nburst = 400\n'
        config = write_config(tmp_path / "config.toml", server.url, api)
        async with running_bridge(config, run) as proc:
            found = discovery.read(run / "agentlight" / "api.json")
            assert found is not None
            port = int(found.url.rsplit(":", 1)[1])
            warm = await SseReader.open(port)  # the stream's code paths loaded and used once
            await warm.head()
            await warm.event()
            before = rss_kib(proc.pid)
            streams = []
            for _ in range(200):
                stream = await SseReader.open(port)
                streams.append(stream)
            for stream in streams:
                assert await stream.head() == 200
                await stream.event()
            after = rss_kib(proc.pid)
            for stream in [warm, *streams]:
                stream.close()
    grown_mb = (after - before) / 1024
    assert grown_mb < 8, f"{grown_mb:.1f} MB for 200 streams"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_status_watch_follows_the_stream_and_says_when_the_bridge_goes(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    async with api_rig(tmp_path) as rig:
        rig.publish(make_source("pp", "idle"))
        discovery.write(run / "agentlight" / "api.json", rig.url, None)
        proc = await asyncio.create_subprocess_exec(
            *agentlight("status", "--watch", "--format={state} {sessions}"),
            env=environ(run),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        stdout: asyncio.StreamReader = proc.stdout

        async def line() -> str:
            async with asyncio.timeout(20):
                return (await stdout.readline()).decode().strip()

        try:
            assert await line() == "idle 0"
            rig.publish(make_source("pp", "active", [("websocket:a", "thinking")]))
            assert await line() == "active 1"
            await rig.host.close()  # the bridge goes away
            assert await line() == "disconnected 0"
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
