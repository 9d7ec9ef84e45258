"""The client side of agentlight's local API, light enough for a hook: find the running
bridge through its discovery file and POST JSON to it.

Only ``json``, ``os`` and ``sys`` are imported here; ``http.client`` only when a
bridge was found. ``agentlight hook`` runs on every event of a coding agent and
must start in a few tens of milliseconds (see ``bridge/commands/hook.py``).

The discovery file is the API's (``bridge/api/discovery.py``): these are the
same places, in the same order.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

#: Seconds a client waits for the bridge in all: connect, send and the reply.
TOTAL_LIMIT = 1.0


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
    if sys.platform.startswith("linux") and first != "/run/agentlight/api.json":
        paths.append("/run/agentlight/api.json")
    return paths


def find_bridge() -> tuple[str, str | None] | None:
    """(URL, token) of a running bridge's API, or None (no file, or its process is gone)."""
    for path in discovery_paths():
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read(64 * 1024))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        url, pid, token = data.get("url"), data.get("pid"), data.get("token")
        if not isinstance(url, str) or not url.startswith("http://"):
            continue
        if isinstance(pid, int) and not _running(pid):
            continue  # a bridge that was killed left its file behind
        return url, token if isinstance(token, str) else None
    return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's (the system service): it runs
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


def post(url: str, path: str, payload: Any, token: str | None, deadline: float) -> int | None:
    """POST ``payload`` as JSON to ``url`` + ``path`` by ``deadline`` (monotonic); the
    status, or None when the bridge could not be reached in time."""
    import http.client

    host, port = _host_port(url)
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection(host, port, timeout=left)
    try:
        conn.request("POST", path, body, headers)
        if conn.sock is not None:
            conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


__all__ = ["TOTAL_LIMIT", "discovery_paths", "find_bridge", "post", "runtime_dir"]
