"""``agentlight check``: validate a config (every error at once) and print the plan."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from bridge.commands.common import config_from
from bridge.infra.config import Config
from bridge.infra.secret import redact_text

__all__ = ["describe_config", "main", "preflight"]


def main(args: argparse.Namespace) -> int:
    config = config_from(args)
    print(describe_config(config))
    for line in preflight(config):
        print(f"warning: {line}")
    return 0


def preflight(config: Config) -> list[str]:
    """What ``run`` will fail on, each with its fix: a source that cannot authenticate, a
    device that cannot open. Nothing is sent to a server and nothing lights up."""
    from devices import driver_class

    found: list[str] = []
    for s in config.sources:
        # On the options, not the source: building a source imports its HTTP
        # library, and check stays light (no HTTP or hardware library for a
        # config without hardware).
        check = getattr(s.options, "preflight", None)
        try:
            problems = check() if check is not None else []
        except Exception as err:  # what run would meet reading a secret, said the same way
            problems = [str(err)]
        found += [f"source {s.name}: {_unprefixed(p, s.name)}" for p in problems]
    for d in config.devices:
        try:
            problems = driver_class(d.type)(d.name, d.options).preflight()
        except Exception as err:
            problems = [str(err)]
        found += [f"device {d.name}: {_unprefixed(p, d.name)}" for p in problems]
    return found


def _unprefixed(problem: str, name: str) -> str:
    """Drivers' errors start with their name; the warning line names it once."""
    return problem.removeprefix(f"{name}: ")


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
        decks = any(d.type == "streamdeck" for d in config.devices)
        # A deck leaves what its own exit option says (default: its standby image).
        lines.append("on exit: devices go dark" + (" (Stream Decks: their exit)" if decks else ""))
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
            # Secret's str() is "***"; a password pasted into another field is redacted too.
            parts.append(f"{f.name}={redact_text(str(value))}")
    return ("  " + " ".join(parts)) if parts else ""
