"""Adding a family is one package and one row: the checklists, followed to the letter.

In a temporary directory this writes a toy source package and a toy driver package
as the docstrings of :mod:`bridge.sources` and :mod:`devices` say (each
``__init__.py`` is the docstring's own descriptor example with the placeholders
filled in), registers each with one row, and runs them through ``agentlight
check``, ``run``, ``devices`` and the error hints: as an installed package's entry
points (the real CLI in a subprocess), and as a row in ``SOURCES``/``DRIVERS``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import bridge.sources
import devices
from bridge.infra.config import parse_config
from bridge.infra.credentials import secret_files
from bridge.infra.family import Family
from bridge.pipeline.model import ConnectionState, GlobalState, SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.sources.family import SourceFamily
from devices.family import DeviceFamily
from harness.procs import read_records
from tests.bridge_proc import run_agentlight
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent


def descriptor_example(doc: str | None) -> str:
    """The ``__init__.py`` a checklist shows: the literal block after "these::"."""
    assert doc
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith("nothing but these::"))
    block: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith(" " * 9):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def filled(template: str, package: str, prefix: str, family: str) -> str:
    """The example with ``<prefix>.<family>`` → our package and the names filled in."""
    text = template.replace(f"{prefix}.<family>", package)
    text = text.replace("<family>", family).replace("<Family>", family.title())
    assert "<" not in text, text
    return text


# -- the toy source, as bridge/sources/__init__.py says --------------------------

SOURCE_OPTIONS = '''\
"""Config keys of the toy source (no I/O library here)."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.infra.secret import Secret


@dataclass(frozen=True, slots=True)
class Options:
    """``[[sources]]`` keys for ``type = "toy"``.

    :param url: where the toy lives.
    :param up: whether it answers.
    :param key: its key; else ``key_file``, the credential ``toy-key``, ``$TOY_KEY``.
    :param key_file: a file holding the key.
    """

    url: str = "toy://lamp"
    up: bool = True
    key: Secret | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith("toy://"):
            raise ValueError(f"url: got {self.url!r}, expected toy://…")
'''

SOURCE = '''\
"""The toy source: one thinking session when it is up and given a key."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.infra.credentials import resolve_secret
from bridge.pipeline.model import ConnectionState, GlobalState, Session, SessionState, Snapshot
from bridge.sources.base import Source
from toysource.options import Options


class ToySource(Source):
    TYPE = "toy"
    Options = Options

    async def run(self) -> None:
        self.publish(ConnectionState.CONNECTING, None, f"connecting to {self.options.url}")
        key = self.options.key or resolve_secret(
            Path(self.options.key_file).read_text() if self.options.key_file else None,
            "TOY_KEY",
            "toy-key",
        )
        if key is None:
            self.publish(ConnectionState.AUTH_FAILED, None, "no key")
        elif not self.options.up:
            self.publish(ConnectionState.DISCONNECTED, None, "connection refused")
        else:
            session = Session("s1", "s1", "toy", SessionState.THINKING, source=self.name)
            snapshot = Snapshot(GlobalState.ACTIVE, (session,), active_sessions=1)
            self.publish(ConnectionState.CONNECTED, snapshot)
        await asyncio.Event().wait()  # until cancelled
'''

SOURCE_HINTS = '''\
from __future__ import annotations

from typing import Any

from bridge.pipeline.model import ConnectionState, SourceStatus


def hint(status: SourceStatus, options: Any, *, built_in: bool) -> str:
    if status.connection is ConnectionState.DISCONNECTED:
        return f"no toy answers at {options.url}: is it switched on?"
    return ""
'''

# -- the toy driver, as devices/__init__.py says ----------------------------------

DRIVER = '''\
"""The toy lamp: writes each frame as a JSON line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bridge.pipeline.frame import Frame
from devices.base import Capabilities, Driver


@dataclass(frozen=True, slots=True)
class LampOptions:
    """Options of the ``lamp`` driver.

    :param path: the file the lamp writes its frames to.
    """

    path: str = "lamp.jsonl"

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("path: got '', expected a file name")


class LampDriver(Driver):
    TYPE = "lamp"
    Options = LampOptions
    CAPS = Capabilities(fps=10.0)

    def __init__(self, name: str, options: LampOptions | None = None) -> None:
        super().__init__(name, options)
        self._file: Any = None

    async def _open(self) -> None:
        self._file = await self.blocking(self._open_file)

    def _open_file(self) -> Any:
        return open(self.options.path, "a", encoding="utf-8")

    async def _show(self, frame: Frame) -> None:
        line = json.dumps(
            {
                "state": str(frame.state),
                "color": frame.look.color.hex,
                "effect": str(frame.look.effect),
                "label": frame.look.label,
                "details": [s.detail for s in frame.status.sources],
            }
        )
        await self.blocking(self._write, line)

    def _write(self, line: str) -> None:
        self._file.write(line + "\\n")
        self._file.flush()

    async def _close(self, blank: bool) -> None:
        if self._file is not None:
            await self.blocking(self._file.close)
            self._file = None
'''

SURVEY = '''\
from __future__ import annotations

from devices.survey import Found, Section


def survey() -> Section:
    section = Section("lamp", "toy lamps")
    section.found.append(
        Found("lamp", "Toy Lamp", path="/dev/toylamp0", vid=0x1234, pid=0x5678)
    )
    return section
'''

UDEV = 'SUBSYSTEM=="hidraw", ATTRS{idVendor}=="1234", MODE="0660", GROUP="plugdev"\n'

ENTRY_POINTS = """\
[agentlight.sources]
toy = toysource:FAMILY

[agentlight.devices]
lamp = toylamp:FAMILY
"""


@dataclass
class Toys:
    site: Path  # the two packages
    meta: Path  # their entry points, as an installed distribution


@pytest.fixture
def toys(tmp_path: Path) -> Toys:
    site = tmp_path / "site"
    source = site / "toysource"
    lamp = site / "toylamp"
    source.mkdir(parents=True)
    lamp.mkdir()
    (source / "options.py").write_text(SOURCE_OPTIONS)
    (source / "source.py").write_text(SOURCE)
    (source / "hints.py").write_text(SOURCE_HINTS)
    (source / "__init__.py").write_text(
        filled(descriptor_example(bridge.sources.__doc__), "toysource", "bridge.sources", "toy")
    )
    (lamp / "driver.py").write_text(DRIVER)
    (lamp / "survey.py").write_text(SURVEY)
    (lamp / "70-agentlight-lamp.rules").write_text(UDEV)
    (lamp / "__init__.py").write_text(
        filled(descriptor_example(devices.__doc__), "toylamp", "devices", "lamp")
    )
    meta = tmp_path / "meta"
    dist = meta / "agentlight_toys-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: agentlight-toys\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return Toys(site, meta)


@pytest.mark.parametrize(
    "family", [*bridge.sources.SOURCES, *devices.DRIVERS], ids=lambda f: f.type
)
def test_every_built_in_descriptor_names_its_own_classes(family: Family) -> None:
    if isinstance(family, SourceFamily):
        heavy = family.source_class()
    else:
        assert isinstance(family, DeviceFamily)
        heavy = family.driver_class()
        if family.udev_rules:
            assert "MODE=" in family.udev_text()
    assert family.type == heavy.TYPE
    assert heavy.Options is family.options_class()


def test_the_descriptor_examples_are_what_the_toys_use(toys: Toys) -> None:
    text = (toys.site / "toysource" / "__init__.py").read_text()
    assert 'options="toysource.options:Options"' in text
    assert 'source="toysource.source:ToySource"' in text
    assert 'Credential("toy-key"' in text and 'secret_files=("key_file",)' in text
    text = (toys.site / "toylamp" / "__init__.py").read_text()
    assert 'driver="toylamp.driver:LampDriver"' in text
    assert 'udev_rules="toylamp:70-agentlight-lamp.rules"' in text


# -- installed: entry points, the real command line --------------------------------


def agentlight_env(toys: Toys, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOY_KEY", "CREDENTIALS_DIRECTORY")}
    env["PYTHONPATH"] = os.pathsep.join([str(toys.site), str(toys.meta), str(ROOT)])
    return {**env, **extra}


def cli(toys: Toys, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_agentlight(*args, timeout=60, env=agentlight_env(toys, **env))


def write_config(directory: Path, source: str) -> Path:
    path = directory / "toys.toml"
    path.write_text(
        f'[[sources]]\ntype = "toy"\n{source}\n'
        '[[devices]]\ntype = "lamp"\nname = "desk"\nshow = "global"\npath = "desk.jsonl"\n'
    )
    return path


def test_check_reads_the_toys_options(toys: Toys, tmp_path: Path) -> None:
    config = write_config(tmp_path, 'url = "toy://den"')
    result = cli(toys, "check", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "  toy (toy)  url=toy://den" in result.stdout
    assert f"  desk (lamp) show=global  path={tmp_path / 'desk.jsonl'}" in result.stdout

    bad = write_config(tmp_path, 'url = "http://den"')
    result = cli(toys, "check", "-c", str(bad))
    assert result.returncode == 2
    assert "sources[0].url: got 'http://den', expected toy://…" in result.stderr


def test_an_unknown_type_lists_the_installed_ones(toys: Toys, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[sources]]\ntype = "toys"\n[[devices]]\ntype = "lamp"\n')
    result = cli(toys, "check", "-c", str(path))
    assert result.returncode == 2
    assert "unknown type 'toys', expected one of agp, hooks, mqtt, pocketpaw, toy" in result.stderr


async def run_until(
    toys: Toys, config: Path, seen: Any, **env: str
) -> tuple[list[dict[str, Any]], str]:
    """``agentlight run -c config`` until the lamp wrote a line ``seen`` accepts."""
    record = config.parent / "desk.jsonl"
    record.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "run", "-c", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env=agentlight_env(toys, **env),
    )  # fmt: skip

    try:
        await eventually(lambda: any(seen(line) for line in read_records(record)), 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return read_records(record, finished=True), err.decode()


async def test_run_shows_the_toy_sources_look_on_the_toy_lamp(
    toys: Toys, tmp_path: Path
) -> None:
    key_file = tmp_path / "toy.key"
    key_file.write_text("k3y\n")
    key_file.chmod(0o644)  # every user may read it: the family said it holds a secret
    config = write_config(tmp_path, f'url = "toy://den"\nkey_file = "{key_file}"')
    active = default_theme().global_look(GlobalState.ACTIVE)
    shown, err = await run_until(toys, config, lambda line: line["state"] == "active")
    first, last = shown[0], shown[-1]
    assert first["state"] == "connecting"
    assert first["details"] == ["connecting to toy://den"]  # connects_to = "url"
    assert last["color"] == active.color.hex and last["label"] == active.label
    assert f"{key_file} (sources.toy.key_file) holds a secret" in err


async def test_a_disconnected_toy_gets_its_hint_once(toys: Toys, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "toy-key").write_text("k3y\n")  # the credential the family names
    config = write_config(tmp_path, "up = false")
    shown, err = await run_until(
        toys,
        config,
        lambda line: line["state"] == "disconnected",
        CREDENTIALS_DIRECTORY=str(credentials),
    )
    look = default_theme().global_look(GlobalState.DISCONNECTED)
    assert shown[-1]["color"] == look.color.hex
    assert err.count("no toy answers at toy://lamp: is it switched on?") == 1


def test_devices_lists_the_toy_lamp_and_prints_its_udev_rules(toys: Toys) -> None:
    result = cli(toys, "devices", "--json")
    assert result.returncode == 0, result.stderr
    families = json.loads(result.stdout)["families"]
    assert [f["kind"] for f in families] == ["serial", "usblight", "streamdeck", "gpio", "lamp"]
    (lamp,) = families[-1]["found"]
    assert lamp["name"] == "Toy Lamp" and lamp["usb_id"] == "1234:5678"

    result = cli(toys, "devices")
    assert "toy lamps:\n  /dev/toylamp0  1234:5678  Toy Lamp" in result.stdout

    result = cli(toys, "devices", "--udev-rules")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n" + UDEV)
    assert 'ATTRS{idVendor}=="0fd9"' in result.stdout  # the built-in ones still come first


def test_an_installed_family_that_does_not_load_is_named(toys: Toys, tmp_path: Path) -> None:
    (toys.site / "toylamp" / "driver.py").write_text("raise ImportError('no lamp library')\n")
    (toys.site / "toylamp" / "__init__.py").write_text("raise ImportError('broken lamp')\n")
    path = tmp_path / "lamp.toml"
    path.write_text('[[sources]]\ntype = "toy"\n[[devices]]\ntype = "lamp"\n')
    result = cli(toys, "check", "-c", str(path))
    assert result.returncode == 2
    assert re.search(
        r"devices\[0\]\.type: entry point 'lamp' \(toylamp:FAMILY\) in agentlight.devices "
        r"does not load: ImportError: broken lamp",
        result.stderr,
    ), result.stderr
    result = cli(toys, "devices")
    assert result.returncode == 0
    assert "broken lamp" in result.stdout


# -- in the tree: one row in SOURCES and DRIVERS ------------------------------------


@pytest.fixture
def rows(toys: Toys, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toys as built-in families: their packages importable, one row each (and no
    entry points: the metadata directory is not on the path)."""
    monkeypatch.syspath_prepend(str(toys.site))
    import toylamp
    import toysource

    monkeypatch.setattr(bridge.sources, "SOURCES", (*bridge.sources.SOURCES, toysource.FAMILY))
    monkeypatch.setattr(devices, "DRIVERS", (*devices.DRIVERS, toylamp.FAMILY))
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in ("toysource", "toylamp")]:
        del sys.modules[name]


@pytest.mark.usefixtures("rows")
def test_one_row_each_makes_the_toys_configurable_and_hinted(tmp_path: Path) -> None:
    from bridge.sources.hints import Hints

    key_file = tmp_path / "key"
    key_file.write_text("k")
    config = parse_config(
        {
            "sources": [{"type": "toy", "key_file": str(key_file)}],
            "devices": [{"type": "lamp"}],
        },
        file="<test>",
    )
    assert type(config.sources[0].options).__module__ == "toysource.options"
    lamp = devices.driver_class("lamp")("desk")
    assert type(lamp).__name__ == "LampDriver" and lamp.caps.fps == 10.0
    assert bridge.sources.starting_status("toy", "toy", config.sources[0].options) == (
        SourceStatus("toy", ConnectionState.CONNECTING, None, "connecting to toy://lamp")
    )
    assert secret_files(config) == [("sources.toy.key_file", key_file)]
    said: list[SourceStatus] = []
    hints = Hints(config, said.append)
    down = SourceStatus("toy", ConnectionState.DISCONNECTED, None, "connection refused")
    assert hints.hint(down) == "no toy answers at toy://lamp: is it switched on?"


@pytest.mark.usefixtures("rows")
def test_one_row_puts_the_toy_lamp_in_devices() -> None:
    from bridge.commands import devices as command

    assert [f.type for f in command.hardware()][-1] == "lamp"
    assert command.udev_rules().endswith("\n" + UDEV)
