"""Each command's --help says what it takes: a description, every --format field, and
every environment variable it reads (every secret's variable, the GPIO pin factory)."""

from __future__ import annotations

import argparse
import re

import pytest

from bridge.cli import _COMMANDS, build_parser
from bridge.infra.credentials import credentials
from bridge.text.statusline import FIELDS


def helps() -> dict[str, str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub.choices[name].format_help() for name, *_ in _COMMANDS}


HELP = helps()


@pytest.mark.parametrize("name", list(HELP))
def test_every_command_has_a_description(name: str) -> None:
    description = next(d for n, _, d, *_ in _COMMANDS if n == name)
    assert description and description.splitlines()[0] in HELP[name]


def test_status_help_lists_every_format_field() -> None:
    for field in FIELDS:
        assert "{" + field + "}" in HELP["status"]


def secret_variables() -> set[str]:
    """The variables every family's credential reads (named in its description)."""
    return {
        var
        for holds in credentials().values()
        for var in re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", holds)
    }


@pytest.mark.parametrize("name", ["run", "check", "status"])
def test_the_commands_that_read_secrets_list_every_secrets_variable(name: str) -> None:
    variables = secret_variables()
    assert {"H_API_KEY", "AGENTLIGHT_MQTT_PASSWORD", "POCKETPAW_TOKEN"} <= variables
    for var in variables:
        assert var in HELP[name], var


@pytest.mark.parametrize("name", ["run", "check", "show", "demo", "test-pattern", "devices"])
def test_the_commands_that_drive_devices_list_the_pin_factory_variable(name: str) -> None:
    assert "GPIOZERO_PIN_FACTORY" in HELP[name]
