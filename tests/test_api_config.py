"""The ``[api]`` table, the guard's rules on their own, and the engine's doors the API uses."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

import bridge.api.options
from bridge.api.guard import Complaints, Guard, RateLimit
from bridge.api.options import ApiOptions, read_token_file, resolve_token
from bridge.commands.check import describe_config
from bridge.engine import Device, Engine
from bridge.infra.config import load_config, parse_config
from bridge.infra.errors import ConfigError
from bridge.infra.secret import Secret
from bridge.pipeline.inputs import InputEvent
from bridge.pipeline.theme import default_theme
from devices.mock import MockDriver
from tests.frames import make_source

TOKEN = "0123456789abcdef-token"


def config(api: object, **extra: Any) -> Any:
    return parse_config(
        {
            "sources": [{"type": "pocketpaw"}],
            "devices": [{"type": "record", "path": "/dev/null"}],
            "api": api,
            **extra,
        },
        file="<test>",
    )


def test_an_empty_api_table_listens_on_the_documented_default() -> None:
    api = config({}).api
    assert api is not None
    assert (api.host, api.port, api.loopback) == ("127.0.0.1", 8737, True)
    assert config({"listen": "localhost:9000"}).api.host == "127.0.0.1"
    assert config({"listen": "[::1]:9000"}).api.host == "::1"
    assert not config({"listen": "0.0.0.0:9000"}).api.loopback


def test_no_api_table_no_api() -> None:
    cfg = parse_config(
        {"sources": [{"type": "pocketpaw"}], "devices": [{"type": "terminal"}]}, file="<t>"
    )
    assert cfg.api is None


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"listen": "pi.local:8737"}, "api.listen", "IP address"),
        ({"listen": "127.0.0.1"}, "api.listen", "HOST:PORT"),
        ({"listen": "127.0.0.1:99999"}, "api.listen", "0 to 65535"),
        ({"token": "short"}, "api.token", "at least 16"),
        ({"token": "has spaces in the token value"}, "api.token", "printable ASCII"),
        ({"allow_origins": ["*"]}, "api.allow_origins", "no '*'"),
        ({"allow_origins": ["https://a.example/path"]}, "api.allow_origins", "scheme://host"),
        ({"allow_hosts": ["pi.local:8737"]}, "api.allow_hosts", "no port"),
        ({"max_connections": 0}, "api.max_connections", ">= 1"),
        ({"rate": 0}, "api.rate", "> 0"),
        ({"lisen": "127.0.0.1:1"}, "api.lisen", "did you mean 'listen'"),
        ("127.0.0.1:8737", "api", "expected a table"),
    ],
)
def test_a_wrong_api_table_names_the_key(table: object, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(table)
    assert info.value.key == key
    assert words in str(info.value)
    if key == "api.token":  # a secret, even a wrong one, is never echoed
        assert str(table["token"]) not in str(info.value)  # type: ignore[index]


def test_a_device_named_like_the_apis_presses_is_refused_while_the_api_is_on() -> None:
    with pytest.raises(ConfigError, match="taken by the API's presses"):
        parse_config(
            {
                "sources": [{"type": "pocketpaw"}],
                "devices": [{"type": "terminal", "name": "api"}],
                "api": {},
            },
            file="<t>",
        )
    parse_config(
        {"sources": [{"type": "pocketpaw"}], "devices": [{"type": "terminal", "name": "api"}]},
        file="<t>",
    )


def test_without_aiohttp_the_api_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge.api.options, "aiohttp_missing", lambda: True)
    with pytest.raises(ConfigError) as info:
        config({})
    assert str(info.value) == (
        '<test>: api: the [api] table needs aiohttp: pip install "agentlight[api]"'
    )


def test_check_prints_the_api_without_its_token() -> None:
    text = describe_config(config({"listen": "127.0.0.1:9000", "token": TOKEN}))
    assert "api: http://127.0.0.1:9000" in text
    assert TOKEN not in text


# -- the token -------------------------------------------------------------------


def test_token_file_holds_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(
        '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype = "terminal"\n'
        '[api]\ntoken_file = "token"\n'
    )
    loaded = load_config(cfg_file).api
    assert loaded is not None and loaded.token_file == str(path)
    assert resolve_token(loaded) == Secret(TOKEN)


def test_token_file_must_be_a_small_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="a FIFO"):
        read_token_file(str(fifo))  # never blocks on a FIFO
    with pytest.raises(ValueError, match="a directory; expected a regular file"):
        read_token_file(str(tmp_path))
    big = tmp_path / "big"
    big.write_bytes(b"a" * (65 * 1024))
    with pytest.raises(ValueError, match="larger than"):
        read_token_file(str(big))
    secret = tmp_path / "pasted"
    secret.write_text("a token with spaces that is long")
    with pytest.raises(ValueError) as info:
        read_token_file(str(secret))
    assert "spaces that" not in str(info.value)


def test_the_token_comes_from_the_credential_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTLIGHT_API_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert resolve_token(ApiOptions()) is None
    monkeypatch.setenv("AGENTLIGHT_API_TOKEN", "from-the-environment-1")
    assert resolve_token(ApiOptions()) == Secret("from-the-environment-1")
    (tmp_path / "agentlight-api-token").write_text("from-the-credential-22\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert resolve_token(ApiOptions()) == Secret("from-the-credential-22")
    assert resolve_token(ApiOptions(token=Secret(TOKEN))) == Secret(TOKEN)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "none"))
    monkeypatch.setenv("AGENTLIGHT_API_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token(ApiOptions())


# -- the guard's rules -------------------------------------------------------------


def guard(listen: str = "127.0.0.1:8737", **kw: Any) -> Guard:
    options = ApiOptions(listen=listen, **kw)
    return Guard(options, options.port, None, Secret("run-token-0123456789"))


@pytest.mark.parametrize(
    ("listen", "host", "ok"),
    [
        ("127.0.0.1:8737", "127.0.0.1:8737", True),
        ("127.0.0.1:8737", "localhost:8737", True),
        ("127.0.0.1:8737", "[::1]:8737", True),
        ("127.0.0.1:8737", "127.0.0.2:8737", True),
        ("127.0.0.1:8737", "10.0.0.5:8737", False),
        ("127.0.0.1:8737", "127.0.0.1:8080", False),
        ("127.0.0.1:8737", "127.0.0.1:8737:1", False),
        ("127.0.0.1:8737", "[::1]x:8737", False),
        ("[::1]:8737", "[::1]:8737", True),
        ("[::1]:8737", "localhost:8737", True),
        ("192.168.1.5:8737", "192.168.1.5:8737", True),
        ("192.168.1.5:8737", "localhost:8737", False),
        ("192.168.1.5:8737", "pi.local:8737", True),  # allow_hosts below
        ("192.168.1.5:8737", "other.local:8737", False),
        ("0.0.0.0:8737", "10.1.2.3:8737", True),
        ("0.0.0.0:8737", "localhost:8737", True),
        ("0.0.0.0:8737", "rebind.example:8737", False),
        ("127.0.0.1:80", "localhost", True),
    ],
)
def test_host_must_name_the_listen_address(listen: str, host: str, ok: bool) -> None:
    assert guard(listen, allow_hosts=("pi.local",)).host_ok(host) is ok


def test_the_rate_limit_refills_and_forgets_the_oldest_peers() -> None:
    now = [0.0]
    limit = RateLimit(10.0, 5, clock=lambda: now[0], max_peers=3)
    assert [limit.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert limit.retry_after("a") == 1
    now[0] += 0.1  # one request's worth
    assert limit.allow("a") and not limit.allow("a")
    for peer in ("b", "c", "d"):
        limit.allow(peer)
    assert len(limit) == 3  # "a" went first


def test_complaints_are_one_line_a_minute_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    complaints = Complaints(logging.getLogger("test.api"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.api"):
        for _ in range(100):
            complaints.note("rate", "refused %s", "x")
        complaints.note("host", "refused host")
        now[0] = 61.0
        complaints.note("rate", "refused %s", "y")
    assert [r.getMessage() for r in caplog.records] == [
        "refused x",
        "refused host",
        "refused y (99 more since the last line)",
    ]


# -- the engine's doors -------------------------------------------------------------


async def test_a_watcher_hears_every_change_until_it_stops() -> None:
    engine = Engine([], default_theme())
    heard: list[int] = []

    def bad() -> None:
        raise RuntimeError("a watcher's bug")

    engine.watch(bad)
    stop_watching = engine.watch(lambda: heard.append(engine.version))
    engine.publish(make_source("pp", "active", [("websocket:a", "thinking")]))
    engine.publish(make_source("pp", "active", [("websocket:a", "thinking")]))  # no change
    engine.set_theme(default_theme())
    assert heard == [1, 2]
    stop_watching()
    stop_watching()  # twice is fine
    engine.publish(make_source("pp", "idle"))
    assert heard == [1, 2]


async def test_send_input_takes_a_press_only_while_running() -> None:
    deck = MockDriver("deck")
    engine = Engine([Device(deck)], default_theme())
    press = InputEvent("api", "api", True)
    assert engine.send_input(press) is False
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([], stop))
    await engine.ready.wait()
    assert engine.send_input(press) is True
    assert sum(engine.send_input(press) for _ in range(100)) < 100  # the queue is bounded
    stop.set()
    await task


# -- what is imported ---------------------------------------------------------------

_SERVER_LIBS = ("aiohttp", "multidict", "yarl")

_RUN_WITHOUT_API = """
import asyncio, sys
from bridge.app import run_bridge
from bridge.infra.config import parse_config

config = parse_config(
    {
        "sources": [{"type": "pocketpaw", "url": "http://127.0.0.1:9", "events": "off"}],
        "devices": [{"type": "record", "path": "/dev/null"}],
    },
    file="<test>",
)

async def main():
    stop = asyncio.Event()
    engines = []
    task = asyncio.create_task(run_bridge(config, stop, on_engine=engines.append))
    while not engines or not engines[0].sources:  # until the sources run: start-up is over
        await asyncio.sleep(0.01)
    stop.set()
    await task

asyncio.run(main())
print("LOADED:" + ",".join(m for m in %r if m in sys.modules))
"""

_CHECK_WITH_API = """
import sys
from bridge.commands.check import describe_config
from bridge.infra.config import parse_config

describe_config(parse_config(
    {"sources": [{"type": "pocketpaw"}], "devices": [{"type": "terminal"}], "api": {}},
    file="<test>",
))
print("LOADED:" + ",".join(m for m in %r if m in sys.modules))
"""


@pytest.mark.parametrize("code", [_RUN_WITHOUT_API, _CHECK_WITH_API], ids=["run", "check"])
def test_the_server_library_loads_only_for_a_running_api(code: str) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code % (_SERVER_LIBS,)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert result.stdout.strip().splitlines()[-1] == "LOADED:", result.stderr[-2000:]


def test_the_example_configs_api_table_is_every_key_and_runs_as_uncommented() -> None:
    import dataclasses
    import re
    import tomllib

    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    assert load_config(Path(__file__).resolve().parent.parent / "config.example.toml").api is None
    block = text[text.index("# [api]\n") :].split("\n\n", 1)[0]
    lines = [m.group(1) for line in block.splitlines() if (m := re.match(r"^# (\w+ = .*)$", line))]
    table = tomllib.loads("\n".join(lines))
    fields = {f.name for f in dataclasses.fields(ApiOptions)}
    assert set(table) == fields
    defaults = ApiOptions()
    for name, value in table.items():
        if name not in ("token", "token_file", "allow_origins", "allow_hosts"):
            assert getattr(defaults, name) == value, name
    del table["token"], table["token_file"]  # placeholders
    assert config(table).api is not None
