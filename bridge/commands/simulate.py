"""``agentlight simulate``: the simulated PocketPaw (or AgP) status API alone, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys

from bridge.infra.logsetup import setup_logging
from bridge.infra.signals import SIGNALS
from bridge.simulator import SimServer, serve

__all__ = ["main"]


def main(args: argparse.Namespace) -> int:
    setup_logging(args.verbose, args.quiet)
    run = serve
    if getattr(args, "agp", False):
        from bridge.simulator.agp_serve import serve_agp

        run = functools.partial(serve_agp, sessions_dir=args.sessions_dir)

    def ready(server: SimServer) -> None:
        print(f"simulated PocketPaw status API on {server.url}", file=sys.stderr, flush=True)

    async def serve_until(stop: asyncio.Event) -> None:
        task = asyncio.create_task(
            run(args.port, speed=args.speed, api_key=args.api_key, ready=ready)
        )
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (task, waiter):
            t.cancel()
        results = await asyncio.gather(task, waiter, return_exceptions=True)
        for result in results:
            if isinstance(result, OSError):
                raise result

    try:
        asyncio.run(SIGNALS.until_stopped(serve_until, or_else=None))
    except OSError as err:
        print(f"agentlight: cannot serve on port {args.port}: {err.strerror}", file=sys.stderr)
        return 1
    return 0
