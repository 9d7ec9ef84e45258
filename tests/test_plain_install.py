"""The README's first steps work in a plain install (``pip install .``, no extras).

The quick start is ``pip install . && agentlight demo``; the tests run with every
extra installed, so a command that needs an extra without saying so (the demo's
Claude Code session brought an ``[api]`` table, which needs aiohttp: the demo
stopped at once with "config error: <demo>: api: … needs aiohttp") passed here
and failed for every newcomer. Each first-five-minutes command runs in a Python
where the extras' libraries cannot be imported (as if not installed): no
traceback, no config error, the exit code documented.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Import names of every optional extra (pyproject.toml), absent in a plain install.
EXTRAS = ("aiohttp", "aiomqtt", "paho", "serial", "gpiozero", "lgpio", "busylight_core",
          "StreamDeck", "PIL", "hid")  # fmt: skip

_PLAIN = """
import importlib.abc, importlib.util, sys

BLOCKED = set(sys.argv[1].split(","))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
_find_spec = importlib.util.find_spec

def find_spec(name, package=None):
    return None if name.partition(".")[0] in BLOCKED else _find_spec(name, package)

importlib.util.find_spec = find_spec
from bridge.entry import main
sys.exit(main(sys.argv[2:]))
"""


async def plain(*args: str, until: str | None = None, within: float = 20.0) -> tuple[int, str]:
    """Run ``agentlight ARGS`` as a plain install would; with ``until``, stop it (Ctrl-C)
    once its output shows that text. Returns the exit code and everything it wrote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POCKETPAW_", "H_API"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PLAIN, ",".join(EXTRAS), *args,
        cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    out = b""
    try:
        async with asyncio.timeout(within):
            if until is not None:
                while until.encode() not in out:
                    chunk = await proc.stdout.read(4096)
                    assert chunk, out.decode()  # it ended before showing it
                    out += chunk
                proc.send_signal(signal.SIGINT)
            out += await proc.stdout.read()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, out.decode()


@pytest.mark.parametrize(
    ("args", "until", "code"),
    [
        (("demo", "--speed", "4"), "Thinking", 0),
        (("check",), None, 0),
        (("status", "--url", "http://127.0.0.1:9", "--timeout", "2"), None, 1),
        (("devices",), None, 0),
        (("show", "waiting_for_user"), "Waiting for you", 0),
        (("run", "--url", "http://127.0.0.1:9"), "No agent", 0),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
async def test_first_steps_work_without_any_extra(
    args: tuple[str, ...], until: str | None, code: int
) -> None:
    got, out = await plain(*args, until=until)
    assert "Traceback" not in out and "config error" not in out, out
    assert got == code, out


async def test_the_check_names_the_extras_missing() -> None:
    """The emulation holds: a module of an extra is absent in the child."""
    got, out = await plain("devices")
    assert got == 0 and "pip install 'agentlight[serial]'" in out, out


async def test_check_warns_of_a_source_whose_extra_is_missing(tmp_path: Path) -> None:
    """``run`` would say "the mqtt extra is not installed" and show no agent; ``check``
    says so first, with the fix (as it does for an mqtt device)."""
    config = tmp_path / "config.toml"
    config.write_text('[[sources]]\ntype = "mqtt"\n\n[[devices]]\ntype = "terminal"\n')
    got, out = await plain("check", "-c", str(config))
    assert got == 0, out
    assert "warning: source mqtt: the mqtt extra is not installed: pip install" in out, out
