"""Issue 30, item 6: a secret in any field is never echoed by check, errors or logs.

``mqtt://user:PASSWORD@broker:1883`` pasted as an MQTT ``host`` was echoed by
``check`` and ``run``, for the source and the device. Any value that reads as
userinfo (``scheme://user:pass@``, ``user:pass@host``), and any configured secret's
value wherever it turns up, is shown as ``***``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
import sys
import time
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.commands.check import describe_config
from bridge.infra.config import parse_config
from bridge.infra.errors import ConfigError
from bridge.infra.logsetup import SafeFormatter
from bridge.infra.secret import Secret, redact_text
from bridge.sources import SOURCES
from devices import DRIVERS

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Pa55w0rd-hostile"
PASTED = [
    f"mqtt://user:{PASSWORD}@broker:1883",
    f"https://user:{PASSWORD}@example.com/x",
    f"user:{PASSWORD}@broker",
    f"  mqtt://admin:{PASSWORD}@[::1]:8883  ",
]


def takes_str(tp: Any) -> bool:
    if isinstance(tp, str):
        return "str" in tp and "Secret" not in tp
    return tp is str or str in typing.get_args(tp)


def string_fields() -> list[tuple[str, str, str]]:
    """(group, type, field) for every str option of every built-in family."""
    found = []
    for group, families in (("sources", SOURCES), ("devices", DRIVERS)):
        for family in families:
            for f in dataclasses.fields(family.options_class()):
                if takes_str(f.type):
                    found.append((group, family.type, f.name))
    return found


def shown(data: dict[str, Any]) -> str:
    """Everything check would print for ``data``: the plan, or the errors."""
    try:
        return describe_config(parse_config(data, file="c.toml"))
    except ConfigError as err:
        return str(err)


@pytest.mark.parametrize(("group", "type_name", "field"), string_fields())
def test_a_password_pasted_into_any_string_field_is_never_shown(
    group: str, type_name: str, field: str
) -> None:
    for value in PASTED:
        table = {"type": type_name, field: value}
        data: dict[str, Any] = {
            "sources": [table if group == "sources" else {"type": "pocketpaw"}],
            "devices": [table if group == "devices" else {"type": "terminal"}],
        }
        text = shown(data)
        assert PASSWORD not in text, text


def test_check_and_run_never_echo_a_password_in_an_mqtt_host(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    host = f"mqtt://user:{PASSWORD}@broker:1883"
    cfg.write_text(
        f'[[sources]]\ntype = "mqtt"\nhost = "{host}"\n'
        f'[[devices]]\ntype = "mqtt"\nhost = "{host}"\n'
    )
    for command in ("check", "run"):
        proc = subprocess.run(
            [sys.executable, "-m", "bridge", command, "-c", str(cfg)],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert proc.returncode != 0
        out = proc.stdout + proc.stderr
        assert "host" in out and "***@broker" in out
        assert PASSWORD not in out, out


def test_a_configured_secret_pasted_into_another_field_is_redacted() -> None:
    key = "sk-hostile-0123456789"
    data = {
        "sources": [{"type": "agp", "api_key": key, "credential": key, "sessions": ["s"]}],
        "devices": [{"type": "terminal"}],
    }
    text = shown(data)
    assert "credential=***" in text and key not in text


def test_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    Secret("tok-configured-42")
    formatter = SafeFormatter("%(message)s")
    record = logging.LogRecord(
        "agentlight.test", logging.WARNING, __file__, 1,
        "cannot reach %s with %s", (f"mqtt://u:{PASSWORD}@h", "tok-configured-42"), None,
    )  # fmt: skip
    line = formatter.format(record)
    assert line == "cannot reach mqtt://***@h with ***"
    try:
        raise ValueError(f"bad url http://u:{PASSWORD}@h")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert PASSWORD not in formatter.format(record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("git@github.com:agentlight", "git@github.com:agentlight"),  # no password: kept
        ("ask admin@example.com", "ask admin@example.com"),
        ("websocket:abc waiting", "websocket:abc waiting"),
        ("http://127.0.0.1:8888/api", "http://127.0.0.1:8888/api"),
        ("http://user@host/", "http://***@host/"),
        ("u:p@h and x://a:b@c", "***@h and x://***@c"),
    ],
)
def test_redaction_keeps_what_is_not_a_secret(text: str, expected: str) -> None:
    assert redact_text(text) == expected


_SCHEME_PLAIN = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"]*@")
_BARE_PLAIN = re.compile(r"(?<![\w.%+-])[\w.%+-]+:[^\s/?#@'\"]*@(?=[\w\[])")


def plain_redaction(text: str) -> str:
    """The userinfo patterns as first written: the meaning the linear ones keep."""
    return _BARE_PLAIN.sub("***@", _SCHEME_PLAIN.sub(r"\1***@", text)) if "@" in text else text


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab1:.@/ -+%#?'\"[_é\t", max_size=40))
def test_linear_userinfo_patterns_redact_what_the_plain_ones_did(text: str) -> None:
    assert redact_text(text) == plain_redaction(text)


@pytest.mark.parametrize("text", ["a." * 32_000 + "@", "a:" * 32_000 + "@", "a://" * 16_000 + "@"])
def test_redacting_a_long_line_is_linear(text: str) -> None:
    """Every log line and traceback is redacted before it is cut: these took 13 to 19 s
    with the event loop held. A bound far above linear time, far below quadratic, in CPU
    time of this thread (the backtracking is work; a loaded machine only waits longer)."""
    started = time.thread_time()
    redact_text(text)
    assert time.thread_time() - started < 1.0
