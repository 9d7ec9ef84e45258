"""Secrets from config, systemd credentials ($CREDENTIALS_DIRECTORY) or the environment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bridge.infra.config import load_config
from bridge.infra.credentials import (
    credentials,
    read_credential,
    resolve_secret,
    secret_fields,
    warn_if_exposed,
)
from bridge.infra.errors import ConfigError
from bridge.infra.secret import Secret
from bridge.simulator import SimAgent, SimServer
from tests.conftest import RunSource


@pytest.fixture(autouse=True)
def _no_inherited_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def creds(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    return directory


def test_config_then_credential_then_environment(creds: Path) -> None:
    (creds / "mqtt_password").write_text("from-credential\n")
    env = {"CREDENTIALS_DIRECTORY": str(creds), "MQTT_PW": "from-env"}
    value = resolve_secret(Secret("from-config"), "MQTT_PW", "mqtt_password", environ=env)
    assert value == Secret("from-config")
    # A blank config value counts as unset; the credential's trailing newline goes.
    value = resolve_secret("  ", "MQTT_PW", "mqtt_password", environ=env)
    assert value == Secret("from-credential")
    value = resolve_secret(None, "MQTT_PW", "agp-api-key", environ=env)
    assert value == Secret("from-env")
    assert resolve_secret(None, "NOPE", "agp-api-key", environ=env) is None
    # Outside systemd there is no credentials directory at all.
    assert resolve_secret(None, "MQTT_PW", "mqtt_password", environ={}) is None


def test_the_value_is_a_secret_that_never_shows_itself(creds: Path) -> None:
    (creds / "agp-api-key").write_text("sk-very-secret")
    value = read_credential("agp-api-key", environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert isinstance(value, Secret)
    assert value.reveal() == "sk-very-secret"
    assert "sk-very-secret" not in f"{value} {value!r}"


def test_unreadable_or_odd_credentials_are_config_errors_without_the_value(creds: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    (creds / "binary").write_bytes(b"\xff\xfe-secret-bytes")
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        read_credential("binary", environ=env)
    assert "secret-bytes" not in str(err.value)
    (creds / "huge").write_text("x" * 70_000)
    with pytest.raises(ConfigError, match="larger than"):
        read_credential("huge", environ=env)
    (creds / "a-directory").mkdir()
    with pytest.raises(ConfigError, match="systemd credential 'a-directory' is a directory"):
        read_credential("a-directory", environ=env)
    with pytest.raises(ConfigError, match="not a valid credential name"):
        read_credential("../etc/passwd", environ=env)


def test_every_documented_credential_is_in_the_readme_and_unit() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    unit = (root / "systemd" / "agentlight.service").read_text()
    names = credentials()
    assert {"pocketpaw-status-key", "pocketpaw-token", "agp-api-key", "mqtt_password"} <= set(names)
    for name in names:
        assert name in readme, name
        assert name in unit, name


async def test_pocketpaw_takes_its_status_key_from_a_systemd_credential(
    run_source: RunSource, creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (creds / "pocketpaw-status-key").write_text("cred-key\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("POCKETPAW_STATUS_API_KEY", "env-key-loses")
    async with SimServer(SimAgent(), api_key="cred-key", debounce=0.01) as server:
        _, rec = await run_source(server.url)
        await rec.wait_state("idle")


async def test_pocketpaw_takes_its_dashboard_token_from_a_systemd_credential(
    run_source: RunSource, creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (creds / "pocketpaw-token").write_text("tok-cred")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    async with SimServer(SimAgent(), token="tok-cred", debounce=0.01) as server:
        _, rec = await run_source(server.url)
        await rec.wait_state("idle")


def test_a_bad_credential_is_refused_naming_where_it_came_from(
    creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.sources.pocketpaw.options import Options
    from bridge.sources.pocketpaw.source import PocketPawSource

    (creds / "pocketpaw-status-key").write_text("has spaces in it")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    with pytest.raises(ConfigError, match="pocketpaw-status-key") as err:
        PocketPawSource("pp", Options(), lambda status: None)
    assert "has spaces" not in str(err.value)


# -- config files holding secrets -------------------------------------------------------

CONFIG = """\
[[sources]]
type = "pocketpaw"
url = "http://127.0.0.1:8888"
{extra}

[[devices]]
type = "mock"
"""


def write_config(path: Path, extra: str, mode: int) -> Path:
    path.write_text(CONFIG.format(extra=extra))
    path.chmod(mode)
    return path


def test_world_readable_config_with_a_secret_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    path = write_config(tmp_path / "config.toml", 'api_key = "k-sekrit"', 0o644)
    config = load_config(path)
    assert secret_fields(config) == ["sources.pocketpaw.api_key"]
    lines = warn_if_exposed(config)
    assert len(lines) == 1
    assert str(path) in lines[0] and f"chmod o-r {path}" in lines[0]
    assert "LoadCredential=" in lines[0]
    assert "k-sekrit" not in caplog.text


def test_no_warning_when_only_the_owner_and_group_can_read_it(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config.toml", 'api_key = "k-sekrit"', 0o640)
    assert warn_if_exposed(load_config(path)) == []


def test_no_warning_for_a_readable_config_without_secrets(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config.toml", "", 0o644)
    assert warn_if_exposed(load_config(path)) == []


def test_world_readable_token_file_is_warned_about(tmp_path: Path) -> None:
    token = tmp_path / "pocketpaw-token"
    token.write_text("tok")
    token.chmod(0o644)
    path = write_config(tmp_path / "config.toml", f'token_file = "{token}"', 0o644)
    lines = warn_if_exposed(load_config(path))
    assert len(lines) == 1
    assert str(token) in lines[0] and "sources.pocketpaw.token_file" in lines[0]
    token.chmod(0o600)
    assert warn_if_exposed(load_config(path)) == []
