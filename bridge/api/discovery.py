"""The discovery file: how local clients find a running bridge's API.

While the API runs, the bridge keeps ``api.json`` in its runtime directory::

    {"api": 1, "url": "http://127.0.0.1:8737", "pid": 4242, "version": "0.1.0",
     "token": "…"}

``token`` is what ``POST /v1/input`` needs (the configured token, else one made
for this run), so the file is the user's alone: mode 0600, in a directory only
they can enter. It is written atomically (a reader never sees half a file) and
removed when the bridge stops; a file whose process is gone (the bridge was
killed) is ignored by readers. ``started`` (Linux) is when that process started,
so a file left by a killed bridge whose pid now belongs to another process, which
may listen on the same port, is ignored too.

Where: systemd's ``$RUNTIME_DIRECTORY`` (the units set ``RuntimeDirectory=agentlight``:
``/run/agentlight`` for the system service), else ``$XDG_RUNTIME_DIR/agentlight``,
else ``$TMPDIR/agentlight`` on macOS, ``%LOCALAPPDATA%\\agentlight`` on Windows,
``/tmp/agentlight-<uid>`` elsewhere. Readers look in their own directory, then
in ``/run/agentlight`` (the system service's, readable by its user only).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge import __version__
from bridge.api import API_VERSION
from bridge.infra import local_api
from bridge.infra.files import read_limited
from bridge.infra.secret import Secret

FILE_NAME = "api.json"
SYSTEM_DIR = Path(local_api.SYSTEM_DIR)
_MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Discovered:
    """A running bridge's API, as its discovery file says."""

    url: str
    pid: int
    version: str
    token: Secret | None
    path: Path
    #: When the process started (``local_api.process_started``), where known.
    started: int | None = None


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where this process keeps (and first looks for) the discovery file."""
    env = os.environ if environ is None else environ
    systemd = env.get("RUNTIME_DIRECTORY", "")
    if systemd:
        return Path(systemd.split(":")[0])
    xdg = env.get("XDG_RUNTIME_DIR", "")
    if xdg:
        return Path(xdg) / "agentlight"
    # Imported here: `agentlight hook` reads this file on every hook an agent runs.
    import tempfile

    if sys.platform == "darwin":
        return Path(env.get("TMPDIR") or tempfile.gettempdir()) / "agentlight"
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "agentlight"
    return Path(tempfile.gettempdir()) / f"agentlight-{os.getuid()}"


def search_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The discovery files a client reads, in order."""
    paths = [runtime_dir(environ) / FILE_NAME]
    system = SYSTEM_DIR / FILE_NAME
    if sys.platform.startswith("linux") and system not in paths:
        paths.append(system)
    return paths


def write(path: Path, url: str, token: Secret | None, *, pid: int | None = None) -> None:
    """Write the discovery file atomically, mode 0600.

    :raises OSError: the directory cannot be made, or is not this user's own.
    """
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_own(directory)
    owner = os.getpid() if pid is None else pid
    data: dict[str, Any] = {
        "api": API_VERSION,
        "url": url,
        "pid": owner,
        "version": __version__,
    }
    started = local_api.process_started(owner)
    if started is not None:
        data["started"] = started
    if token is not None:
        data["token"] = token.reveal()
    tmp = directory / f".{FILE_NAME}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _check_own(directory: Path) -> None:
    """Refuse a directory another user owns or may write to (``/tmp``'s fallback)."""
    if sys.platform == "win32":
        return
    st = os.lstat(directory)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{directory} is not a directory")
    if st.st_uid != os.getuid():
        raise OSError(f"{directory} belongs to another user")
    if st.st_mode & 0o022:
        raise OSError(f"{directory} may be written by other users (mode {st.st_mode & 0o777:o})")


def _trusted(directory: Path) -> bool:
    """Whether only this user (or root) can have written the files in ``directory``."""
    return local_api.trusted_dir(str(directory))


def remove(path: Path, *, pid: int | None = None) -> None:
    """Remove the discovery file if it is still this process's (another bridge may
    have written its own since)."""
    mine = os.getpid() if pid is None else pid
    found = read(path)
    if found is not None and found.pid == mine:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read(path: Path) -> Discovered | None:
    """The discovery file at ``path``; None when missing, unreadable or malformed."""
    try:
        raw = read_limited(path, limit=_MAX_BYTES, what="discovery file")
    except (OSError, ValueError):  # missing, unreadable, not a regular file, too large
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    url, pid, api, token = data.get("url"), data.get("pid"), data.get("api"), data.get("token")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if not isinstance(api, int) or api < 1:
        return None
    version, started = data.get("version"), data.get("started")
    return Discovered(
        url=url.rstrip("/"),
        pid=pid,
        version=version if isinstance(version, str) else "",
        token=Secret(token) if isinstance(token, str) and token else None,
        path=path,
        started=started if isinstance(started, int) and not isinstance(started, bool) else None,
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts)."""
    return local_api.same_process(pid, None)


def find(
    environ: Mapping[str, str] | None = None,
    *,
    alive: Callable[[int], bool] = pid_alive,
) -> Discovered | None:
    """The first discovery file of a bridge that still runs (stale ones are skipped,
    and so are files in a directory another user could have put them in)."""
    for path in search_paths(environ):
        if not _trusted(path.parent):
            continue
        found = read(path)
        if (
            found is not None
            and alive(found.pid)
            and local_api.started_as_recorded(found.pid, found.started)
        ):
            return found
    return None


__all__ = [
    "FILE_NAME",
    "SYSTEM_DIR",
    "Discovered",
    "find",
    "pid_alive",
    "read",
    "remove",
    "runtime_dir",
    "search_paths",
    "write",
]
