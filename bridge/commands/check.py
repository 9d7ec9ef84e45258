"""``agentlight check``: validate a config (every error at once) and print the plan."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from bridge.commands.common import config_from
from bridge.infra.config import Config

__all__ = ["describe_config", "main"]


def main(args: argparse.Namespace) -> int:
    print(describe_config(config_from(args)))
    return 0


def describe_config(config: Config) -> str:
    """What ``run`` would start for ``config``: sources, devices, theme, the exit look."""
    lines = [f"{config.file or '<built-in config>'}: OK", "sources:"]
    for s in config.sources:
        lines.append(f"  {s.name} ({s.type}){_options(s.options)}")
    lines.append("devices:")
    for d in config.devices:
        lines.append(f"  {d.name} ({d.type}) show={d.show}{_options(d.options)}")
    lines.append(f"theme: {config.theme.source}")
    if config.on_exit is None:
        lines.append("on exit: devices go dark")
    else:
        lines.append(f"on exit: {config.on_exit.color.hex} {config.on_exit.effect.value}")
    if config.api is not None:
        api = config.api
        host = f"[{api.host}]" if ":" in api.host else api.host
        if api.token or api.token_file:
            guarded = "token required"
        elif api.loopback:
            guarded = "this machine only"
        else:
            guarded = "token required: $AGENTLIGHT_API_TOKEN or the systemd credential"
        lines.append(f"api: http://{host}:{api.port}  ({guarded}){_options(api)}")
    return "\n".join(lines)


def _options(options: Any) -> str:
    if not dataclasses.is_dataclass(options):
        return ""
    parts = []
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if value != f.default:
            # Secret's str() is "***": credentials never reach the terminal.
            parts.append(f"{f.name}={value}")
    return ("  " + " ".join(parts)) if parts else ""
