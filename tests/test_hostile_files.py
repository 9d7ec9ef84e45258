"""Issue 30, item 3: files a config names never block the loop or swallow memory.

FIFOs (no writer: ``open`` would wait for good), ``/dev/zero`` (endless), sockets,
directories where a file goes, symbolic links where ``sessions_from`` goes, and
huge files are refused with one line; slow reads happen on a thread. Each test
that could hang on the bug runs under :func:`tests.guard.deadline`, so it fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.infra.config import load_config
from bridge.infra.credentials import read_credential
from bridge.infra.errors import ConfigError
from bridge.infra.files import FileRefused, read_limited
from bridge.simulator.agp import SimAgp
from bridge.sources.agp import sessions as agp_sessions
from bridge.sources.agp.options import Options as AgpOptions
from bridge.sources.agp.sessions import WatchList
from bridge.sources.pocketpaw.options import Options as PocketPawOptions
from tests import test_service_reload
from tests.agp_helpers import KEY, agp_server, keys, watching
from tests.conftest import eventually
from tests.guard import deadline, memory_cap
from tests.test_service_reload import Bridge

ROOT = Path(__file__).resolve().parent.parent
# The running bridge with a reloader, as the reload tests use it.
bridge = test_service_reload.bridge
AGP_LOG = "agentlight.sources.agp"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    yield path
    sock.close()


def special(kind: str, tmp_path: Path, fifo: Path, unix_socket: Path) -> tuple[Path, str]:
    """A path of ``kind`` and the words the refusal must use."""
    if kind == "fifo":
        return fifo, "FIFO"
    if kind == "zero":
        return Path("/dev/zero"), "character device"
    if kind == "socket":
        return unix_socket, "socket"
    (tmp_path / "dir").mkdir()
    return tmp_path / "dir", "directory"


KINDS = ["fifo", "zero", "socket", "directory"]


# -- the one reader ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_only_regular_files_are_read(
    kind: str, tmp_path: Path, fifo: Path, unix_socket: Path
) -> None:
    path, words = special(kind, tmp_path, fifo, unix_socket)
    with (
        deadline(5, f"reading {kind}"),
        memory_cap(),
        pytest.raises(FileRefused, match=words) as err,
    ):
        read_limited(path, limit=1024, what="token_file")
    assert "\n" not in str(err.value)


def test_a_file_over_its_cap_is_refused_and_a_link_to_a_file_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2049)
    with pytest.raises(FileRefused, match="larger than 2,048 bytes"):
        read_limited(big, limit=2048)
    small = tmp_path / "small"
    small.write_bytes(b"x" * 2048)
    link = tmp_path / "link"
    link.symlink_to(small)
    assert read_limited(link, limit=2048) == b"x" * 2048


# -- token files, credentials, the config and its theme -----------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_file_that_is_not_a_file_is_a_config_error_at_once(
    kind: str, tmp_path: Path, fifo: Path, unix_socket: Path
) -> None:
    path, words = special(kind, tmp_path, fifo, unix_socket)
    with (
        deadline(5, "checking token_file"),
        memory_cap(),
        pytest.raises(ValueError, match=words) as err,
    ):
        PocketPawOptions(token_file=str(path))
    message = str(err.value)
    assert message.startswith("token_file: ") and "\n" not in message
    assert str(path) not in message  # users paste the token itself here


def test_a_huge_token_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    huge = tmp_path / "token"
    with huge.open("wb") as f:
        f.truncate(1 << 30)  # a sparse gigabyte: reading it all would take the memory
    with pytest.raises(ValueError, match="larger than"):
        PocketPawOptions(token_file=str(huge))


def test_check_with_a_fifo_token_file_fails_in_one_line(tmp_path: Path, fifo: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[[sources]]\ntype = "pocketpaw"\ntoken_file = "{fifo}"\n[[devices]]\ntype = "terminal"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "check", "-c", str(cfg)],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "FIFO" in proc.stderr
    assert sum("token_file" in line for line in proc.stderr.splitlines()) == 1


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_credential_that_is_not_a_file_is_refused(
    kind: str, tmp_path: Path, fifo: Path, unix_socket: Path
) -> None:
    path, words = special(kind, tmp_path, fifo, unix_socket)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "agp-api-key").symlink_to(path)
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    with (
        deadline(5, "reading the credential"),
        memory_cap(),
        pytest.raises(ConfigError, match=words),
    ):
        read_credential("agp-api-key", environ=env)


def test_a_config_file_or_theme_that_is_not_a_file_is_refused(tmp_path: Path, fifo: Path) -> None:
    with deadline(5, "loading a FIFO config"), pytest.raises(ConfigError, match="FIFO"):
        load_config(fifo)
    theme = tmp_path / "theme.toml"
    theme.write_text("# " + "x" * (1024 * 1024) + "\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[theme]\nfile = "{theme}"\n[[sources]]\ntype = "pocketpaw"\n'
                   '[[devices]]\ntype = "terminal"\n')  # fmt: skip
    with pytest.raises(ConfigError, match="larger than"):
        load_config(cfg)


# -- sessions_from ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "zero", "socket", "link"])
def test_check_refuses_a_sessions_from_that_is_not_a_file_or_directory(
    kind: str, tmp_path: Path, fifo: Path, unix_socket: Path
) -> None:
    if kind == "link":
        path, words = tmp_path / "etc", "symbolic link"
        path.symlink_to("/etc")
    else:
        path, words = special(kind, tmp_path, fifo, unix_socket)
    with deadline(5), memory_cap(), pytest.raises(ValueError, match=words) as err:
        AgpOptions(api_key=KEY, sessions_from=str(path))  # type: ignore[arg-type]
    assert str(err.value).startswith("sessions_from: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["fifo", "zero", "link"])
def test_a_sessions_from_that_turns_special_while_running_is_watched_as_empty(
    kind: str, tmp_path: Path, fifo: Path, unix_socket: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "list"
    path.write_text("a\nb\n")
    watch = WatchList(str(path), source="agp", limit=10)
    assert watch.check() and watch.ids == ("a", "b")
    path.unlink()
    if kind == "link":
        target = tmp_path / "etc"
        target.mkdir()
        (target / "passwd").touch()
        path.symlink_to(target)
    else:
        path.symlink_to(fifo if kind == "fifo" else "/dev/zero")
        # A link is refused before its target is looked at; a FIFO put in its place is too.
        path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")
    with (
        deadline(5, "checking sessions_from"),
        memory_cap(),
        caplog.at_level(logging.WARNING, AGP_LOG),
    ):
        assert watch.check()
    assert watch.ids == ()
    assert not watch.check()  # said once, not re-read on every tick
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "expected a regular file or a directory" in said[0]


def test_a_directory_lists_regular_files_only_and_at_most_max_entries(
    tmp_path: Path, fifo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "ids"
    folder.mkdir()
    (folder / "real").touch()
    (folder / "sub").mkdir()
    (folder / "linked").symlink_to("/etc/passwd")
    os.mkfifo(folder / "piped")
    watch = WatchList(str(folder), source="agp", limit=100)
    watch.check()
    assert watch.ids == ("real",)
    for i in range(60):
        (folder / f"s{i:02}").touch()
    monkeypatch.setattr(agp_sessions, "MAX_ENTRIES", 20)
    with caplog.at_level(logging.WARNING, AGP_LOG):
        watch.check()
    assert len(watch.ids) <= 20
    assert sum("over 20 entries" in r.getMessage() for r in caplog.records) == 1


def test_the_source_reads_sessions_from_on_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that does not end (a slow mount) never holds the loop: the read here
    waits for the loop to let it go, which a read on the loop itself would wait for
    in vain (an event, not a stopwatch on the loop's stalls)."""
    listing = tmp_path / "ids"
    listing.write_text("a\n")
    slow_check = WatchList.check
    entered, released = threading.Event(), threading.Event()
    held: list[bool] = []  # per read: whether it held the loop (waited out the 5 s)

    def slow(self: WatchList) -> bool:
        entered.set()
        held.append(not released.wait(5))
        return slow_check(self)

    monkeypatch.setattr(WatchList, "check", slow)

    async def main() -> None:
        agp = SimAgp()
        agp.create("a", "running")
        async with agp_server(agp) as server, watching(server, sessions_from=str(listing)) as w:
            await eventually(entered.is_set, 5)
            released.set()  # from the loop: it is free while the read goes on
            await w.rec.wait_for(lambda s: keys(s) == ["a"], within=5)
        assert held and not any(held), held

    with deadline(20):
        asyncio.run(main())


# -- reload ---------------------------------------------------------------------------------


async def test_a_reload_naming_a_fifo_is_refused_and_the_bridge_runs_on(
    bridge: Bridge,
    fifo: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = bridge.config
    bridge.write(devices={"led": "", "deck": ""}, source_extra=f'token_file = "{fifo}"')
    with deadline(10, "the reload"):
        refusal = await bridge.runtime.reload()
    assert refusal is not None and "refused" in refusal
    assert "FIFO" in caplog.text and bridge.config is before
    # The config itself a FIFO (a reload on the loop used to block there for good).
    bridge.path.unlink()
    os.mkfifo(bridge.path)
    with deadline(10, "the reload"):
        assert await bridge.runtime.reload() is not None
    bridge.path.unlink()
    bridge.write(devices={"led": "", "deck": ""}, idle="#0000ff")
    assert await bridge.runtime.reload() is None
    await bridge.mock("led").wait_for(lambda f: f.look.color.hex == "#0000ff", timeout=5)


async def test_a_reload_reads_the_config_off_the_loop(
    bridge: Bridge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The read waits for the loop to let it go: on the loop itself it would wait in
    vain (and say so), off it the loop is free to (an event, not a stopwatch)."""
    assert bridge.runtime.reloader is not None
    load = bridge.runtime.reloader._load
    entered, released = threading.Event(), threading.Event()
    held: list[bool] = []  # per read: whether it held the loop (waited out the 5 s)

    def slow() -> object:
        entered.set()
        held.append(not released.wait(5))
        return load()

    monkeypatch.setattr(bridge.runtime.reloader, "_load", slow)
    reload = asyncio.create_task(bridge.runtime.reload())
    await eventually(entered.is_set, 5)
    released.set()  # from the loop: it is free while the read goes on
    assert await asyncio.wait_for(reload, 10) is None
    assert held == [False]
