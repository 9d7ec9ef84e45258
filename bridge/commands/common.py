"""What several commands share: the usage error, and the config a command reads."""

from __future__ import annotations

import argparse
import dataclasses

from bridge.infra.config import DEFAULT_URL, Config, default_config, load_config, parse_config

__all__ = ["UsageError", "config_from", "with_record"]


class UsageError(Exception):
    """A command-line mistake: ``agentlight CMD: error: …``, exit 2 (as argparse does)."""


def config_from(args: argparse.Namespace) -> Config:
    """The config of ``-c FILE``, else the built-in one for ``--url``; plus ``--record``."""
    if getattr(args, "config", None):
        if getattr(args, "url", None):
            raise UsageError("--url applies only without -c; set url in the config's [[sources]]")
        if getattr(args, "hooks", False):
            raise UsageError("--hooks applies only without -c; add a hooks [[sources]] to it")
        config = load_config(args.config)
    elif getattr(args, "hooks", False):
        # Coding agents' hooks (agentlight hooks install …) → this terminal.
        config = parse_config(
            {"sources": [{"type": "hooks"}], "devices": [{"type": "terminal"}]},
            file="<built-in: --hooks>",
        )
    else:
        config = default_config(getattr(args, "url", None) or DEFAULT_URL)
    record = getattr(args, "record", None)
    if record:
        config = with_record(config, record)
    return config


def with_record(config: Config, path: str) -> Config:
    """``config`` plus a record device writing to ``path`` (``--record``)."""
    names = {d.name for d in config.devices}
    name = "record" if "record" not in names else "record-cli"
    extra = parse_config(
        {
            "sources": [{"type": "pocketpaw"}],
            "devices": [{"type": "record", "name": name, "path": path}],
        },
        file="--record",
    )
    return dataclasses.replace(config, devices=config.devices + extra.devices)
