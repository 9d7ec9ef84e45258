"""What the tests and the benchmarks share: real parts to run against, no test framework.

- :mod:`harness.mosquitto`: a real Mosquitto on 127.0.0.1 (and throwaway TLS files);
- :mod:`harness.procs`: the ``agentlight`` command, and stopping it as a user would;
- :mod:`harness.vclock`: an asyncio loop on a virtual clock.

``python -m benchmarks`` runs in a plain ``pip install ".[all]"``, without the dev
extra, so nothing here may import pytest, hypothesis or ``tests`` (a test checks).
A missing tool is a :class:`ToolMissing`; the tests turn it into a skip, the
benchmarks into a note.
"""

from __future__ import annotations

__all__ = ["ToolMissing"]


class ToolMissing(RuntimeError):
    """A program the helper needs (``mosquitto``, ``openssl``) is not installed.

    :param install: how to install it, for the message.
    """

    def __init__(self, message: str, install: str) -> None:
        super().__init__(f"{message} ({install})")
        self.install = install
