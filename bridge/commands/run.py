"""``agentlight run``: the bridge on a config file (or the built-in one) until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bridge.app import run_bridge
from bridge.commands.common import config_from
from bridge.infra.credentials import warn_if_exposed
from bridge.infra.logsetup import setup_logging

__all__ = ["log_default", "main"]


def log_default() -> int:
    """Quiet on a terminal (the status line stays readable), detailed in a journal."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return logging.WARNING if tty else logging.INFO


def main(args: argparse.Namespace) -> int:
    config = config_from(args)
    setup_logging(args.verbose, args.quiet, config.log_level, default=log_default())
    warn_if_exposed(config)

    def on_log_level(level: str) -> None:
        setup_logging(0, False, level, default=log_default())

    fixed = args.verbose or args.quiet  # -v/-q win over the file, also after a reload
    return asyncio.run(
        run_bridge(config, hints=True, on_log_level=None if fixed else on_log_level)
    )
