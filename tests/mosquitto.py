"""A real Mosquitto for tests: :mod:`harness.mosquitto`, skipping when it is missing.

Tests skip with the reason when ``mosquitto`` (or ``openssl``, for the TLS files)
is not installed, except under CI (``CI=true``), where a missing broker is a
failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import ToolMissing
from harness import mosquitto as _real
from harness.mosquitto import INSTALL, TlsFiles, free_port, mosquitto_binary

__all__ = [
    "INSTALL",
    "Broker",
    "TlsFiles",
    "free_port",
    "make_tls_files",
    "mosquitto_binary",
    "require_mosquitto",
]


def require_mosquitto() -> str:
    """The broker's path; skip (or, under CI, fail) when it is missing."""
    binary = mosquitto_binary()
    if binary is None:
        message = f"mosquitto is not installed ({INSTALL})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it (.ci/run does)")
        pytest.skip(message)
    return binary


class Broker(_real.Broker):
    """:class:`harness.mosquitto.Broker`, the test skipped (failed under CI) without one."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        super().__init__(directory, users=users, tls=tls, binary=require_mosquitto())


def make_tls_files(directory: Path) -> TlsFiles:
    """A throwaway CA and a broker certificate signed by it; skip without openssl."""
    try:
        return _real.make_tls_files(directory)
    except ToolMissing as err:
        pytest.skip(str(err))
