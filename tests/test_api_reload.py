"""A reload adds, changes and removes the API without dropping the sources' connections.

The whole program as systemd runs it (NOTIFY_SOCKET, SIGHUP), against the built-in
simulator, which counts its status-stream requests: one request all along proves
the source never reconnected.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from bridge.api import discovery
from bridge.simulator import SimAgent, SimServer
from bridge.simulator.server import STREAM_PATH
from tests.test_service_reload import NotifySocket, bridge_process

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
[bridge]
log_level = "info"

[[sources]]
type = "pocketpaw"
name = "pp"
url = "{url}"
events = "off"

[[devices]]
type = "record"
name = "rec"
path = "{record}"
"""


@pytest.mark.skipif(sys.platform != "linux", reason="unix datagram notify socket")
async def test_reload_adds_changes_and_removes_the_api_and_keeps_the_source(
    tmp_path: Path,
) -> None:
    notify = NotifySocket(tmp_path / "notify")
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    found_at = run / "agentlight" / "api.json"
    async with SimServer(SimAgent(), debounce=0.01, keepalive=0.1) as server:
        path = tmp_path / "config.toml"
        base = BASE.format(url=server.url, record=tmp_path / "record.jsonl")
        path.write_text(base)
        env = {
            **{k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"},
            "NOTIFY_SOCKET": str(notify.path),
            "XDG_RUNTIME_DIR": str(run),
            "PYTHONPATH": str(ROOT),
        }

        async def reload(text: str) -> dict[str, str]:
            path.write_text(text)
            assert proc is not None
            proc.send_signal(signal.SIGHUP)
            await notify.next_with("RELOADING")
            return await notify.next_with("READY")

        async def status(url: str) -> int:
            async with httpx.AsyncClient(trust_env=False) as client:
                return (await client.get(f"{url}/v1/status")).status_code

        async with bridge_process(path, notify, env) as proc:
            await notify.next_with("READY")
            async with asyncio.timeout(10):
                while server.requests[STREAM_PATH] == 0:  # noqa: ASYNC110 - a server counter
                    await asyncio.sleep(0.01)
            assert not found_at.exists()

            ready = await reload(base + '\n[api]\nlisten = "127.0.0.1:0"\n')
            assert "reload" not in ready["STATUS"]  # no "last reload failed"
            first = discovery.read(found_at)
            assert first is not None and first.pid == proc.pid
            assert await status(first.url) == 200

            await reload(base + '\n[api]\nlisten = "127.0.0.1:0"\nrate = 20.0\n')
            second = discovery.read(found_at)
            assert second is not None and second.url != first.url
            assert await status(second.url) == 200
            with pytest.raises(httpx.ConnectError):
                await status(first.url)

            await reload(base)
            assert not found_at.exists()
            with pytest.raises(httpx.ConnectError):
                await status(second.url)

            # The source kept its one stream through all of it.
            assert server.requests[STREAM_PATH] == 1 and server.open_streams == 1
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        assert proc.stderr is not None
        stderr = (await proc.stderr.read()).decode()
        assert "api added" in stderr and "api changed" in stderr and "api removed" in stderr
