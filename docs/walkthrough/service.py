"""Run a unit's ExecStart as systemd would, without systemd (for docs/walkthrough/run.sh).

``python3 service.py [--connected] UNIT_FILE PREFIX -- KEY=VALUE...``: reads
ExecStart= from the unit, runs it with NOTIFY_SOCKET (a datagram socket read here), WATCHDOG_USEC,
INVOCATION_ID, CREDENTIALS_DIRECTORY and the given variables, and checks the
notify protocol: READY=1 and a STATUS= line, a reload (SIGHUP) answered with
RELOADING=1 then READY=1 again, WATCHDOG=1 pings, and on SIGTERM STOPPING=1
and exit 0; with --connected, also a STATUS= line showing the agent (the
credentials worked). %h, %E and %S are replaced under PREFIX. Prints what it saw;
exits 1 on the first thing that does not hold.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def exec_start(unit: Path, prefix: Path) -> list[str]:
    for line in unit.read_text().splitlines():
        if line.startswith("ExecStart="):
            command = line.removeprefix("ExecStart=")
            for spec, value in (("%h", prefix / "home"), ("%E", prefix / "home/.config"),
                                ("%S", prefix / "var/lib")):  # fmt: skip
                command = command.replace(spec, str(value))
            return shlex.split(command)
    raise SystemExit(f"{unit}: no ExecStart=")


def wait_for(sock: socket.socket, wanted: str, seconds: float, seen: list[str]) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            break
        seen.append(message)
        for line in message.splitlines():
            if line.startswith(wanted):
                return line
    raise SystemExit(f"FAIL: no {wanted} within {seconds} s; saw {seen!r}")


def main() -> int:
    args = sys.argv[1:]
    connected = args[0] == "--connected"
    if connected:
        args = args[1:]
    unit, prefix = Path(args[0]), Path(args[1])
    extra = dict(arg.split("=", 1) for arg in args[3:])  # after "--"
    argv = exec_start(unit, prefix)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        env = {
            **os.environ, **extra,
            "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "INVOCATION_ID": "walkthrough",
        }  # fmt: skip
        print("ExecStart:", shlex.join(argv))
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seen: list[str] = []
        try:
            wait_for(sock, "READY=1", 30, seen)
            print(f"READY=1 after {time.monotonic() - started:.2f} s")
            said = [line for m in seen for line in m.splitlines() if line.startswith("STATUS=")]
            print(said[-1] if said else wait_for(sock, "STATUS=", 10, seen))
            while connected:  # the agent shown: the source got in with the credential
                line = wait_for(sock, "STATUS=", 15, seen)
                if not any(w in line for w in ("connecting", "auth", "cannot", "disconnected")):
                    print(f"{line} (connected with the credential)")
                    break
            wait_for(sock, "WATCHDOG=1", 5, seen)
            print("WATCHDOG=1 pinged")
            proc.send_signal(signal.SIGHUP)
            wait_for(sock, "RELOADING=1", 10, seen)
            wait_for(sock, "READY=1", 10, seen)
            print("SIGHUP: RELOADING=1, then READY=1")
            proc.send_signal(signal.SIGTERM)
            wait_for(sock, "STOPPING=1", 10, seen)
            code = proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        err = proc.stderr.read().decode() if proc.stderr else ""
        print(f"SIGTERM: STOPPING=1, exit {code}")
        if code != 0 or "Traceback" in err:
            print(err)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
