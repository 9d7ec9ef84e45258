"""The program's first instructions (``agentlight`` and ``python -m bridge``).

A stop signal (Ctrl-C, SIGTERM, SIGHUP) must end start-up cleanly at any
moment, also while :mod:`bridge.cli` imports argparse. So the very first thing
the program does, before it imports anything of its own, is catch those signals
with the builtin ``_signal`` module (already loaded by the interpreter: no Python
code runs before the handler is in) and remember them; :func:`bridge.cli.main`
takes them over with :data:`bridge.infra.signals.SIGNALS`.

Before this function runs there is only the interpreter's own start and the
console script's two lines: a Ctrl-C there gets Python's ``KeyboardInterrupt``,
which no program can catch.
"""

# No imports at the top, not even `from __future__` (it is a real import too): each
# is a moment a Ctrl-C would interrupt with a traceback. So the annotations are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def main(argv: "Sequence[str] | None" = None) -> int:
    import _signal  # builtin and already loaded: a dictionary look-up

    early: list[int] = []

    def remember(signum: int, frame: "FrameType | None") -> None:
        early.append(signum)

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(sig, remember)
    from bridge.cli import main as cli_main

    # After cli_main, `remember` is back in place: a late signal cannot interrupt the exit.
    return cli_main(argv, stopped=early)


__all__ = ["main"]
