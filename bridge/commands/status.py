"""``agentlight status``: read the agent once (or on every change) and print it.

When a bridge runs with the local API and neither ``-c`` nor ``--url`` is
given, its status is read from that API (found by its discovery file); else
through the same sources as ``run`` (so the same URL, credentials and checks),
no devices. Either way the output is the same, in three shapes: a few lines for
people, the versioned JSON form (:mod:`bridge.pipeline.status_json`) for
scripts, or one ``--format`` line for a shell prompt or a tmux status bar.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from bridge.commands.common import config_from
from bridge.infra.config import Config
from bridge.infra.logsetup import setup_logging
from bridge.infra.signals import SIGNALS
from bridge.pipeline.model import AgentStatus, ConnectionState, SourceStatus
from bridge.text.statusline import (
    ask_words,
    duration,
    fields,
    format_line,
    global_words,
    session_name,
    session_words,
)
from bridge.text.textsafe import clean, safe_json

__all__ = ["Watcher", "main", "read_status", "render", "why_not"]

_SETTLED = (ConnectionState.DISCONNECTED, ConnectionState.AUTH_FAILED)


def render(
    status: AgentStatus,
    args: argparse.Namespace,
    now: float | None = None,
    *,
    times: bool = True,
    sources: bool = True,
) -> str:
    """What ``status`` prints for ``status``, in the shape ``args`` asks for.

    :param times: with each session's time in its state (``--watch`` compares
        without them: a new block only when something else changed).
    :param sources: with a line per source not connected (its state and detail);
        off when :func:`why_not` says each of them with its fix, so no cause is
        printed twice.
    """
    now = time.time() if now is None else now
    if args.json:
        from bridge.pipeline.status_json import status_to_json

        return safe_json(status_to_json(status, now))
    if args.format:
        return format_line(args.format, status, now)
    label = fields(status, now)["label"]
    summary = _summary(status, label)
    lines = [f"{label}  ({summary})" if summary else label]
    for session in status.sessions:
        parts = [session_name(session), session_words(session)]
        if session.title:
            parts.append(f"“{clean(session.title, 80)}”")
        if session.since > 0 and times:
            parts.append(duration(session.duration(now)))
        lines.append("  " + "  ".join(parts))
        if session.ask is not None:
            lines.append(f"    asks: {ask_words(session.ask)}")
    for source in status.sources if sources else ():
        if source.connection is not ConnectionState.CONNECTED:
            detail = f": {clean(source.detail, 200)}" if source.detail else ""
            lines.append(f"  source {clean(source.name, 40)}: {source.connection.value}{detail}")
    return "\n".join(lines)


def _summary(status: AgentStatus, label: str) -> str:
    """What the label does not say already: the overall state, the session count."""
    n = len(status.sessions)
    parts = []
    state = global_words(status.state)
    if state.lower() != label.lower():
        parts.append(state)
    if n or not status.state.from_bridge:  # "0 sessions" of an agent we cannot see says nothing
        parts.append(f"{n} session{'s' if n != 1 else ''}")
    return ", ".join(parts)


def _settled(sources: dict[str, SourceStatus], names: list[str]) -> bool:
    """Every source has said something final: a snapshot, or why there is none."""
    for name in names:
        s = sources.get(name)
        if s is None:
            return False
        if s.connection is ConnectionState.CONNECTED and s.snapshot is None:
            return False
        if s.connection is ConnectionState.CONNECTING:
            return False
    return True


async def read_status(
    config: Config,
    *,
    answer_within: float,
    stop: asyncio.Event,
    on_change: Callable[[AgentStatus], None] | None = None,
) -> AgentStatus:
    """Run the sources until each has answered (or ``answer_within`` seconds passed);
    with ``on_change``, until ``stop``, calling it on every change."""
    from bridge.sources import source_class

    names = [s.name for s in config.sources]
    latest: dict[str, SourceStatus] = {}
    settled = asyncio.Event()
    folded = AgentStatus.fold(())

    def publish(status: SourceStatus) -> None:
        nonlocal folded
        latest[status.name] = status
        folded = AgentStatus.fold(tuple(latest[n] for n in names if n in latest))
        if _settled(latest, names):
            settled.set()
            if on_change is not None:
                on_change(folded)

    sources = [source_class(s.type)(s.name, s.options, publish) for s in config.sources]
    tasks = [asyncio.create_task(src.run(), name=f"source:{src.name}") for src in sources]
    waiter = asyncio.create_task(stop.wait() if on_change is not None else settled.wait())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait(
            {waiter, stopper},
            timeout=None if on_change is not None else answer_within,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        for task in (*tasks, waiter, stopper):
            task.cancel()
        await asyncio.gather(*tasks, waiter, stopper, return_exceptions=True)
    return folded


def main(args: argparse.Namespace) -> int:
    config = config_from(args)
    setup_logging(args.verbose, args.quiet, None, default=logging.ERROR)
    if not getattr(args, "config", None) and not getattr(args, "url", None):
        answered = _from_api(args)
        if answered is not None:
            return answered
    if args.verbose == 0:
        # The answer (or its absence) is the output; the sources need not add to it.
        logging.getLogger("agentlight.sources").setLevel(logging.CRITICAL)
    show = Watcher(args)

    async def read(stop: asyncio.Event) -> AgentStatus:
        on_change = show if args.watch else None
        return await read_status(
            config, answer_within=args.timeout, stop=stop, on_change=on_change
        )

    status = asyncio.run(SIGNALS.until_stopped(read, or_else=None))
    if status is None:
        return 0  # stopped before it started
    if args.watch:
        return 0
    ok = _ok(status)
    plain = not args.json and not args.format
    # Each source that did not answer gets one line, on stderr: its cause and its fix.
    print(render(status, args, sources=ok or not plain), flush=True)
    if not ok and plain:
        for line in why_not(config, status, args.timeout):
            print(f"agentlight status: {line}", file=sys.stderr)
    return 0 if ok else 1


class Watcher:
    """``status --watch``: prints a reading when what it prints changes.

    Token counts and times change on almost every frame but are not all shown
    (the plain form shows no tokens): comparing what is printed, without the
    ticking times, keeps blocks that look the same from repeating.
    """

    def __init__(self, args: argparse.Namespace, out: TextIO | None = None) -> None:
        self.args = args
        self.out = out
        self._last: str | None = None

    def __call__(self, status: AgentStatus) -> None:
        plain = not self.args.json and not self.args.format
        # One fixed "now": the clock moving on alone is no change.
        key = render(status, self.args, now=0.0, times=False)
        if key == self._last:
            return
        self._last = key
        out = self.out or sys.stdout
        print(render(status, self.args), file=out, flush=True)
        if plain:
            print(file=out, flush=True)  # a blank line between readings


def why_not(config: Config, status: AgentStatus, timeout: float) -> list[str]:
    """One line per source that gave no status: its own cause, and the fix ``run``'s
    hint gives for it (a refused connection, a wrong key, no key, no answer in time)."""
    from bridge.sources.hints import Hints

    hints = Hints(config, lambda status: None)
    seen = {s.name: s for s in status.sources}
    lines = []
    for entry in config.sources:
        source = seen.get(entry.name)
        url = clean(str(getattr(entry.options, "url", "") or ""), 200)
        if source is None or source.connection is ConnectionState.CONNECTING:
            where = f" from {url}" if url else ""
            lines.append(f"{entry.name}: no answer{where} within {timeout:g} s")
            continue
        if source.connection is ConnectionState.CONNECTED and source.snapshot is not None:
            continue
        cause = clean(source.detail or source.connection.value.replace("_", " "), 300)
        # run's hint, as status says it: status tries once, with its own --url.
        hint = hints.hint(source).replace(" Still trying in the background.", "")
        hint = hint.replace("agentlight run --url", "agentlight status --url")
        if hint and url and url not in cause and source.connection is ConnectionState.DISCONNECTED:
            cause = f"cannot reach {url}: {cause}"  # as run's line says it: the hint is the fix
        lines.append(f"{entry.name}: {cause}" + (f"; {hint}" if hint else ""))
    return lines


def _ok(status: AgentStatus) -> bool:
    return bool(status.sources) and all(
        s.connection is ConnectionState.CONNECTED and s.snapshot is not None
        for s in status.sources
    )


def _from_api(args: argparse.Namespace) -> int | None:
    """``status`` through a running bridge's API; None when none is found or it does not
    answer (then the command asks the agent's servers itself, as without a bridge)."""
    from bridge.api import discovery

    found = discovery.find()
    if found is None:
        return None
    from bridge.api.client import ApiUnavailable, fetch_status, follow_status, wait_or_stop

    log = logging.getLogger("agentlight.status")
    log.info("reading the running bridge's API at %s", found.url)
    if not args.watch:
        try:
            status = asyncio.run(fetch_status(found, args.timeout))
        except ApiUnavailable as err:
            log.info("the bridge's API at %s did not answer (%s); asking the agent", found.url, err)
            return None
        print(render(status, args), flush=True)
        if not _ok(status) and not args.json and not args.format:
            print(
                f"agentlight status: the running bridge ({found.url}) has no answer from the "
                "agent (see its log)",
                file=sys.stderr,
            )
        return 0 if _ok(status) else 1

    last: list[str] = []
    seen: list[bool] = []

    def show(status: AgentStatus) -> None:
        seen.append(True)
        text = render(status, args)
        if not last or text != last[-1]:
            last[:] = [text]
            print(text, flush=True)
            if not args.json and not args.format:
                print(flush=True)

    async def watch(stop: asyncio.Event) -> bool:
        from bridge.pipeline.model import SourceStatus

        while not stop.is_set():
            follow = asyncio.create_task(
                follow_status(found, show, connect_timeout=args.timeout)
            )
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({follow, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (follow, stopped):
                task.cancel()
            results = await asyncio.gather(follow, stopped, return_exceptions=True)
            if stop.is_set():
                break
            if not seen:
                return False  # never answered: ask the agent instead
            err = results[0]
            reason = clean(err, 200) if isinstance(err, ApiUnavailable) else "it went away"
            show(
                AgentStatus.fold(
                    (
                        SourceStatus(
                            "agentlight",
                            ConnectionState.DISCONNECTED,
                            None,
                            f"lost the bridge's API at {found.url}: {reason}",
                        ),
                    )
                )
            )
            await wait_or_stop(stop, 1.0)
        return True

    answered = asyncio.run(SIGNALS.until_stopped(watch, or_else=True))
    return 0 if answered else None
