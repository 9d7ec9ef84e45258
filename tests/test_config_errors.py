"""Config errors: every one at once, named precisely, and never echoing a secret."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.infra.config import load_config, parse_config
from bridge.infra.errors import ConfigError, ConfigErrors
from bridge.infra.secret import redact_url
from bridge.infra.validate import from_table
from tests.bridge_proc import run_agentlight

SECRET = "hunter2-S3CRET"


def agentlight(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    for name in ("POCKETPAW_TOKEN", "POCKETPAW_STATUS_API_KEY"):
        if env is None or name not in env:
            full_env.pop(name, None)
    return run_agentlight(*args, env=full_env)


def write(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    return cfg


# -- URLs ---------------------------------------------------------------------------------

MALFORMED = [
    f"htp://user:{SECRET}@host",
    f"http://user:{SECRET}@",
    f"http:/host?key={SECRET}",
    f"http://host:8888/?token={SECRET}",
    f"http://user:{SECRET}@host:99999",
    f"ftp://{SECRET}@host/x?a={SECRET}#{SECRET}",
    f"http://[::1?key={SECRET}",
    f"{SECRET}:{SECRET}@host",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_redact_url_hides_userinfo_and_query_of_any_url(url: str) -> None:
    assert SECRET not in redact_url(url)


@given(
    st.sampled_from(["http", "htp", "https", "", "h-t+p"]),
    st.sampled_from(["://", ":/", ":", "//", ""]),
    st.text(alphabet="abc.:[]/-", max_size=10),
    st.sampled_from(["user:", "", ":", "u@"]),
)
def test_redact_url_never_shows_a_password_or_query_value(
    scheme: str, sep: str, host: str, user: str
) -> None:
    url = f"{scheme}{sep}{user}{SECRET}@{host}?x={SECRET}&{SECRET}#{SECRET}"
    assert SECRET not in redact_url(url)


@pytest.mark.parametrize("url", MALFORMED)
def test_check_and_run_never_echo_a_password_in_a_bad_url(tmp_path: Path, url: str) -> None:
    cfg = write(tmp_path, f'[[sources]]\ntype = "pocketpaw"\nurl = "{url}"\n'
                '[[devices]]\ntype = "mock"\n')  # fmt: skip
    for command in ("check", "run"):
        result = agentlight(command, "-c", str(cfg))
        assert result.returncode == 2, result.stderr
        assert "sources[0].url" in result.stderr
        assert SECRET not in result.stdout + result.stderr


# -- credentials: what run reads, check checks ---------------------------------------------


def test_a_token_pasted_into_token_file_is_not_echoed(tmp_path: Path) -> None:
    token = "3f2b9c4e-1d2a-4b5c-9e8f-7a6b5c4d3e2f"
    cfg = write(tmp_path, f'[[sources]]\ntype = "pocketpaw"\ntoken_file = "{token}"\n'
                '[[devices]]\ntype = "mock"\n')  # fmt: skip
    result = agentlight("check", "-c", str(cfg))
    assert result.returncode == 2
    assert "sources[0].token_file: cannot read that file" in result.stderr
    assert token not in result.stderr + result.stdout


def test_check_reads_the_token_file_contents(tmp_path: Path) -> None:
    bad = tmp_path / "token"
    bad.write_text(f"not a token {SECRET}\n")
    cfg = write(tmp_path, '[[sources]]\ntype = "pocketpaw"\ntoken_file = "token"\n'
                '[[devices]]\ntype = "mock"\n')  # fmt: skip
    result = agentlight("check", "-c", str(cfg))
    assert result.returncode == 2
    assert "sources[0].token_file: the file does not hold a token" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    bad.write_text("tok-123\n")  # relative to the config file, not the working directory
    assert agentlight("check", "-c", str(cfg)).returncode == 0


@pytest.mark.parametrize("name", ["POCKETPAW_TOKEN", "POCKETPAW_STATUS_API_KEY"])
def test_check_checks_the_environment_like_run(tmp_path: Path, name: str) -> None:
    cfg = write(tmp_path, '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype = "mock"\n')
    for command in ("check", "run"):
        result = agentlight(command, "-c", str(cfg), env={name: f"two words {SECRET}"})
        assert result.returncode == 2, result.stderr
        assert f"environment: {name}: expected printable ASCII" in result.stderr
        assert SECRET not in result.stderr + result.stdout


# -- every error, each under its own key ----------------------------------------------------


def test_every_error_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        '[bridge]\nshutdown_timeout = "soon"\n'
        '[[sources]]\ntype = "pocketpaw"\nstale_after = -1\npoll_intervall = 2\n'
        '[[devices]]\ntype = "terminal"\nwidth = "wide"\ncolor = "blue"\n'
        '[[devices]]\ntype = "nope"\n'
        '[theme]\nfile = "missing.toml"\n',
    )
    with pytest.raises(ConfigErrors) as info:
        load_config(cfg)
    keys = [e.key or "" for e in info.value.errors]
    assert sorted(keys) == sorted(
        [
            "bridge.shutdown_timeout",
            "sources[0].poll_intervall",
            "sources[0].stale_after",
            "devices[0].color",
            "devices[0].width",
            "devices[1].type",
            "theme.file",
        ]
    )
    result = agentlight("check", "-c", str(cfg))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 7
    assert all(line.startswith(f"agentlight: config error: {cfg}: ") for line in lines)


def test_a_check_inside_options_names_the_option(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[[sources]]\ntype = "pocketpaw"\nstale_after = -1\n'
                '[[devices]]\ntype = "terminal"\nwidth = -3\n')  # fmt: skip
    with pytest.raises(ConfigErrors) as info:
        load_config(cfg)
    text = str(info.value)
    assert f"{cfg}: sources[0].stale_after: got -1.0, expected seconds > 0" in text
    assert f"{cfg}: devices[0].width: must be >= 0" in text
    assert "sources[0]: stale_after" not in text


def test_a_missing_theme_file_names_config_file_and_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype = "mock"\n'
                '[theme]\nfile = "mine.toml"\n')  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.file == str(cfg)
    assert info.value.key == "theme.file"
    assert str(tmp_path / "mine.toml") in str(info.value)


def test_record_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "c.toml"
    cfg.write_text('[[sources]]\ntype = "pocketpaw"\n'
                   '[[devices]]\ntype = "record"\npath = "out/r.jsonl"\n')  # fmt: skip
    config = load_config(cfg)
    assert config.devices[0].options.path == str(tmp_path / "sub" / "out" / "r.jsonl")


def test_record_path_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"sources": [{"type": "pocketpaw"}], "devices": [{"type": "record", "path": "."}]},
            file="c.toml",
            base_dir=tmp_path,
        )
    assert info.value.key == "devices[0].path"


def test_wording_names_kinds_not_python_types(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"sources": [{"type": "pocketpaw", "api_key": 5}], "devices": [{"type": "mock"}]},
            file="c.toml",
        )
    assert "got a whole number, expected a string (a secret)" in str(info.value)
    assert "a int" not in str(info.value)


# -- tuples are checked for length ---------------------------------------------------------


@dataclass(frozen=True)
class Pins:
    pins: tuple[int, int, int] = (17, 27, 22)
    names: tuple[str, ...] = ()


@pytest.mark.parametrize("pins", [[1, 2], [1, 2, 3, 4], []])
def test_a_fixed_length_tuple_must_have_that_length(pins: list[int]) -> None:
    with pytest.raises(ConfigError) as info:
        from_table(Pins, {"pins": pins}, file="c.toml", key="devices[0]")
    assert info.value.key == "devices[0].pins"
    assert "expected a list of exactly 3" in str(info.value)


def test_a_variable_length_tuple_takes_any_length() -> None:
    assert from_table(Pins, {"names": ["a", "b", "c", "d"]}, file=None, key="").names == (
        "a", "b", "c", "d",
    )  # fmt: skip
    assert from_table(Pins, {"pins": [1, 2, 3]}, file=None, key="").pins == (1, 2, 3)


def test_a_pasted_endpoint_url_in_a_config_is_explained(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        '[[sources]]\ntype = "pocketpaw"\nurl = "http://127.0.0.1:8888/api/v1/agent/status"\n'
        '[[devices]]\ntype = "mock"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.key == "sources[0].url"
    assert "give the server's base URL 'http://127.0.0.1:8888'" in str(info.value)
