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

__all__ = ["main", "read_status", "render"]

_SETTLED = (ConnectionState.DISCONNECTED, ConnectionState.AUTH_FAILED)


def render(status: AgentStatus, args: argparse.Namespace, now: float | None = None) -> str:
    """What ``status`` prints for ``status``, in the shape ``args`` asks for."""
    now = time.time() if now is None else now
    if args.json:
        from bridge.pipeline.status_json import status_to_json

        return safe_json(status_to_json(status, now))
    if args.format:
        return format_line(args.format, status, now)
    lines = [f"{fields(status, now)['label']}  ({_summary(status)})"]
    for session in status.sessions:
        parts = [session_name(session), session_words(session)]
        if session.title:
            parts.append(f"“{clean(session.title, 80)}”")
        if session.since > 0:
            parts.append(duration(session.duration(now)))
        lines.append("  " + "  ".join(parts))
        if session.ask is not None:
            lines.append(f"    asks: {ask_words(session.ask)}")
    for source in status.sources:
        if source.connection is not ConnectionState.CONNECTED:
            detail = f": {clean(source.detail, 200)}" if source.detail else ""
            lines.append(f"  source {clean(source.name, 40)}: {source.connection.value}{detail}")
    return "\n".join(lines)


def _summary(status: AgentStatus) -> str:
    n = len(status.sessions)
    state = global_words(status.state)
    return f"{state}, {n} session{'s' if n != 1 else ''}"


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
    last: list[str] = []

    def show(status: AgentStatus) -> None:
        text = render(status, args)
        if not last or text != last[-1]:
            last[:] = [text]
            print(text, flush=True)
            if not args.json and not args.format:
                print(flush=True)  # a blank line between readings

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
    print(render(status, args), flush=True)
    ok = _ok(status)
    if not ok and not args.json and not args.format:
        url = next((str(getattr(s.options, "url", "")) for s in config.sources), "")
        print(
            f"agentlight status: no answer from {url or 'the agent'} within {args.timeout:g} s"
            " (is PocketPaw running? another host: --url http://HOST:8888)",
            file=sys.stderr,
        )
    return 0 if ok else 1


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
