"""A real Mosquitto on 127.0.0.1 on a free port, started and stopped here.

For the tests (``tests/mosquitto.py`` skips when it is missing) and the MQTT
benchmark alike; a missing ``mosquitto`` or ``openssl`` is a :class:`ToolMissing`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import ToolMissing

INSTALL = "apt-get install -y mosquitto"
OPENSSL_INSTALL = "apt-get install -y openssl"


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA that signed the broker's certificate
    cert: Path  # the broker's certificate, for 127.0.0.1 and localhost
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A throwaway CA and a broker certificate signed by it (openssl; skip without it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ToolMissing("openssl is not installed (it makes the certificates)", OPENSSL_INSTALL)
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "broker.key", directory / "broker.csr", directory / "broker.pem"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=agentlight test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(csr))  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return TlsFiles(ca, cert, key)


class Broker:
    """One Mosquitto process; :meth:`stop` and :meth:`start` again keep its port.

    :param users: ``{user: password}``; when given, anonymous clients are refused.
    :param binary: the broker to run; by default the installed one.
    :raises ToolMissing: no ``mosquitto`` installed.
    """

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
        binary: str | None = None,
    ) -> None:
        found = binary or mosquitto_binary()
        if found is None:
            raise ToolMissing("mosquitto is not installed", INSTALL)
        self.binary = found
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)  # its config and log go here
        self.port = free_port()
        self.host = "127.0.0.1"
        self.users = users
        self.tls = tls
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Retained messages live in memory only: a restart loses them, so
            # publishers must send them again (what the restart test checks).
            "persistence false",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            # Run as root in CI containers: stay root so the temp files stay readable.
            "user root" if os.geteuid() == 0 else "",
        ]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.cert}",
                f"keyfile {self.tls.key}",
            ]
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            passwd = self.dir / "passwd"
            passwd.write_text("")
            passwd.chmod(0o600)
            tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            for user, password in self.users.items():
                subprocess.run([tool, "-b", str(passwd), user, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        self.config = self.dir / "mosquitto.conf"
        self.config.write_text("\n".join(line for line in lines if line) + "\n")

    def start(self, within: float = 10.0) -> None:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + within
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log.read_text() if self.log.exists() else ""
                self.proc = None
                raise RuntimeError(f"mosquitto exited at start: {err}{log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on {self.port}")
            time.sleep(0.01)  # a port to open: no event to wait on

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def options(self) -> dict[str, object]:
        """Connection keys for an ``mqtt`` device or source on this broker."""
        return {"host": self.host, "port": self.port}


__all__ = [
    "INSTALL",
    "OPENSSL_INSTALL",
    "Broker",
    "TlsFiles",
    "free_port",
    "make_tls_files",
    "mosquitto_binary",
]
