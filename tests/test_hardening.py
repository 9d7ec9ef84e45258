"""Hostile or odd input found in review: each case once, against the real code paths."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging

import pytest

from bridge.infra.errors import ConfigError
from bridge.pipeline.model import SessionState
from bridge.pipeline.theme import default_theme, parse_theme
from bridge.simulator import STREAM_PATH, Fault, SimAgent, SimServer
from bridge.sources.pocketpaw.options import Options
from tests.conftest import RunSource

IDLE = json.dumps({"global": {"state": "idle", "active_sessions": 0}, "sessions": []})
SSE_ONE_FRAME = f"event: status\ndata: {IDLE}\n\n".encode()


async def test_short_lived_streams_back_off_instead_of_storming(
    agent: SimAgent, server: SimServer, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        server.faults.append(
            Fault(
                "status",
                status=200,
                body=SSE_ONE_FRAME,
                path=STREAM_PATH,
                headers={"content-type": "text/event-stream"},
            )
        )
    with caplog.at_level(logging.INFO, logger="agentlight.sources.pocketpaw"):
        _, rec = await run_source(server.url)
        agent.agent_start("websocket:a")
        await rec.wait_state("active")  # the real stream, after three short-lived ones
    waits = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(waits) == 3, waits


async def test_compressed_stream_is_refused_not_inflated(
    agent: SimAgent, server: SimServer, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    server.faults.append(
        Fault(
            "status",
            status=200,
            body=gzip.compress(SSE_ONE_FRAME),
            path=STREAM_PATH,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
        )
    )
    with caplog.at_level(logging.WARNING, logger="agentlight.sources.pocketpaw"):
        _, rec = await run_source(server.url)
        await rec.wait_state("idle")
    assert any("compressed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", ["tok en", "tok\nen", "tökén", "   "])
def test_credentials_must_fit_a_header_and_are_never_echoed(bad: str) -> None:
    if not bad.strip():
        # The config hands over a str; Options turns it into a Secret.
        assert Options(token=bad).token is None  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError) as info:
        Options(token=bad)  # type: ignore[arg-type]
    assert bad.strip() not in str(info.value)


def test_credentials_are_stripped() -> None:
    options = Options(api_key="  key-123\n")  # type: ignore[arg-type]
    assert options.api_key is not None and options.api_key.reveal() == "key-123"


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@127.0.0.1:8888",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:8888/?key=x",
        "ftp://127.0.0.1",
        "http://",
    ],
)
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        Options(url=url)


@pytest.mark.parametrize("label", ["{tool[0]}", "{tool:>999999999}", "{tool!r}", "{nope}", "{"])
def test_theme_templates_are_checked_at_load(label: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_theme(
            {"session": {"thinking": {"label": label}}}, file="t.toml", base=default_theme()
        )
    assert str(info.value).startswith("t.toml: session.thinking.label")


def test_theme_cache_does_not_grow_with_server_sent_names() -> None:
    # Its own cache: the built-in theme is shared, and other tests fill it legitimately.
    theme = dataclasses.replace(default_theme(), _cache={})
    for i in range(500):
        theme.session_look(SessionState.TOOL_RUNNING, tool=f"tool-{i}" * 100, channel=f"ch{i}")
    assert len(theme._cache) == 1  # every unknown tool and channel: one entry


def test_nan_is_not_a_number_for_options(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bridge.infra.config import load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text('[[sources]]\ntype="pocketpaw"\nreconnect_min = nan\n[[devices]]\ntype="mock"\n')
    with pytest.raises(ConfigError, match=r"reconnect_min.*finite"):
        load_config(cfg)


async def test_long_rate_limit_pause_stops_showing_the_old_state(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    from bridge.pipeline.model import ConnectionState

    _, rec = await run_source(server.url)
    agent.agent_start("websocket:a")
    await rec.wait_state("active")
    mark = rec.mark()
    server.faults.append(
        Fault("status", status=429, headers={"Retry-After": "30"}, path=STREAM_PATH)
    )
    await server.drop_streams()
    status = await rec.wait_for(lambda s: s.connection is not ConnectionState.CONNECTED, start=mark)
    assert status.connection is ConnectionState.CONNECTING
    assert status.snapshot is None and "429" in (status.detail or "")


async def test_auth_failure_met_while_checking_the_fallback_is_shown(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    from bridge.simulator import STATUS_PATH

    for _ in range(3):
        server.faults.append(Fault("status", status=502, path=STREAM_PATH))
    server.faults.append(
        Fault(
            "status",
            status=403,
            path=STATUS_PATH,
            body=b'{"detail":"Invalid or missing status API key"}',
        )
    )
    _, rec = await run_source(server.url, fallback_after=3)
    status = await rec.wait_state("auth_failed")
    assert "403" in (status.detail or "")
    await rec.wait_state("idle", start=rec.mark())  # key fixed server-side: back on its own
