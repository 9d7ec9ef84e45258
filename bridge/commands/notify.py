"""``agentlight notify``: any script shows up as a session (a CI job, a cron script,
an agent nobody wrote an adapter for).

It POSTs the generic form to the running bridge's ``/v1/hooks/generic``::

    agentlight notify --session nightly --state tool_running --tool pytest --title "nightly build"
    agentlight notify --session nightly --state done
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bridge.infra.local_api import TOTAL_LIMIT, find_bridge, post


def payload(args: argparse.Namespace) -> dict[str, Any]:
    """The generic form ``args`` describe (see :func:`bridge.sources.hooks.adapters.generic`)."""
    data: dict[str, Any] = {"session": args.session, "state": args.state}
    for key in ("tool", "title", "error", "detail", "pid"):
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    return data


def main(args: argparse.Namespace) -> int:
    bridge = find_bridge()
    if bridge is None:
        print("agentlight notify: agentlight is not running (no API to send to)", file=sys.stderr)
        return 1
    url, token = bridge
    status = post(url, "/v1/hooks/generic", payload(args), token, time.monotonic() + TOTAL_LIMIT)
    if status is None:
        print(f"agentlight notify: no answer from {url}", file=sys.stderr)
        return 1
    if status >= 300:
        print(f"agentlight notify: {url} answered HTTP {status}", file=sys.stderr)
        return 1
    return 0
