"""The client side of agentlight's local API, light enough for a hook: find the running
bridge through its discovery file and POST JSON to it.

Only ``json``, ``os``, ``stat``, ``sys`` and ``time`` are imported here, ``socket`` when a
bridge was found. ``agentlight hook`` runs on every event of a coding agent and
must start in a few tens of milliseconds (see ``bridge/commands/hook.py``).

The discovery file is the API's (``bridge/api/discovery.py``): these are the
same places, in the same order.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from typing import Any

#: Seconds a client waits for the bridge in all: connect, send and the reply.
TOTAL_LIMIT = 1.0
# The most of a reply's body read back (a permission decision is a few hundred bytes).
_MAX_REPLY = 64 * 1024
#: The system service's runtime directory: systemd makes it in root's /run.
SYSTEM_DIR = "/run/agentlight"


def runtime_dir() -> str:
    """The directory this user's bridge keeps its discovery file in."""
    env = os.environ
    systemd = env.get("RUNTIME_DIRECTORY", "")
    if systemd:
        return systemd.split(":")[0]
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "agentlight")
    if sys.platform == "darwin":
        return os.path.join(env.get("TMPDIR") or "/tmp", "agentlight")
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return os.path.join(base, "agentlight")
    return os.path.join(env.get("TMPDIR") or "/tmp", f"agentlight-{os.getuid()}")


def discovery_paths() -> list[str]:
    """Where a running bridge's ``api.json`` is, in the order clients look."""
    first = os.path.join(runtime_dir(), "api.json")
    paths = [first]
    system = os.path.join(SYSTEM_DIR, "api.json")
    if sys.platform.startswith("linux") and first != system:
        paths.append(system)
    return paths


def trusted_dir(directory: str) -> bool:
    """Whether only this user (or root) can have put files in ``directory``.

    The ``/tmp`` fallback can be made first by another user, with an ``api.json``
    naming their own server: clients would send it their hook events. The system
    service's directory is made by systemd in root's ``/run`` for the service's user.
    """
    if sys.platform == "win32" or directory == SYSTEM_DIR:
        return True
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid in (os.getuid(), 0) and not st.st_mode & 0o022


def process_started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (Linux's /proc), or None
    (gone, or no /proc). With the pid it names one process: a pid is reused, this is not.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold anything:
    # field 3 (the state) is the first, field 22 (starttime) the twentieth.
    fields = raw.rpartition(b")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def same_process(pid: object, started: object) -> bool:
    """Whether the bridge that wrote a discovery file (``pid``, ``started``) still runs.

    A killed bridge leaves its file behind, and its pid may since be another
    process's: one that could listen on the same port and read the token clients send.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    return _running(pid) and started_as_recorded(pid, started)


def started_as_recorded(pid: int, started: object) -> bool:
    """False when process ``pid`` started at another time than ``started`` says (its pid
    was reused); True when it did, or when either time is not known."""
    if not isinstance(started, int) or isinstance(started, bool):
        return True
    now = process_started(pid)
    return now is None or now == started


def find_bridge() -> tuple[str, str | None] | None:
    """(URL, token) of a running bridge's API, or None (no file, its process is gone, or
    it is in a directory another user could have written)."""
    for path in discovery_paths():
        if not trusted_dir(os.path.dirname(path)):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                data = json.loads(f.read(64 * 1024))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        url, token = data.get("url"), data.get("token")
        if not isinstance(url, str) or not url.startswith("http://"):
            continue
        if not same_process(data.get("pid"), data.get("started")):
            continue  # a bridge that was killed left its file behind
        return url, token if isinstance(token, str) else None
    return None


def _running(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill would end it there; a dead bridge's URL refuses instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's (the system service): it runs
    except OSError:
        return False
    return True


def _host_port(url: str) -> tuple[str, int]:
    """Host and port of ``http://host:port[/…]`` (urllib.parse costs a start-up)."""
    netloc = url.partition("://")[2].partition("/")[0]
    if netloc.startswith("["):  # [::1]:8737
        host, _, rest = netloc[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
    return host or "127.0.0.1", int(port) if port.isdigit() else 80


def post(
    url: str,
    path: str,
    payload: Any,
    token: str | None,
    deadline: float,
    *,
    body_out: list[bytes] | None = None,
) -> int | None:
    """POST ``payload`` as JSON to ``url`` + ``path`` by ``deadline`` (monotonic); the
    HTTP status, or None when the bridge could not be reached in time.

    One HTTP/1.1 request over a plain socket, reading back only the status line:
    ``http.client`` would do the same, but importing it (it imports the ``email``
    package) costs ~20 ms, a third of ``agentlight hook``'s start-up budget.

    :param body_out: when given, the reply's body is read too (up to 64 KiB, until
        the bridge closes the connection) and appended to it: a held permission
        request's decision.
    """
    import socket

    host, port = _host_port(url)
    body = json.dumps(payload, separators=(",", ":")).encode()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + "\r\n"
    )
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    try:
        with socket.create_connection((host, port), timeout=left) as sock:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock.sendall(head.encode("latin-1") + body)
            reply = b""
            while b"\r\n" not in reply and len(reply) < 1024:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
            while body_out is not None and len(reply) < _MAX_REPLY:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except (OSError, UnicodeError):
        return None
    if body_out is not None:
        body_out.append(reply.partition(b"\r\n\r\n")[2])
    status = reply.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
        return None
    return int(status[1])


__all__ = [
    "SYSTEM_DIR",
    "TOTAL_LIMIT",
    "discovery_paths",
    "find_bridge",
    "post",
    "process_started",
    "runtime_dir",
    "same_process",
    "started_as_recorded",
    "trusted_dir",
]
