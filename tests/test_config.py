"""Config and theme errors name the file, the key, the bad value and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.infra.config import load_config
from bridge.infra.errors import ConfigError
from bridge.pipeline.looks import Color
from bridge.pipeline.model import GlobalState

GOOD = """
[bridge]
log_level = "warning"
on_exit = { color = "green", brightness = 0.1 }

[[sources]]
type = "pocketpaw"
url = "http://127.0.0.1:8888"
api_key = "s3cret-key"

[[devices]]
type = "terminal"
name = "desk"

[[devices]]
type = "record"
name = "log"
path = "changes.jsonl"
show = "global"

[theme.global.idle]
color = "#102030"

[theme.channel.discord]
color = "purple"
"""


def write(tmp_path: Path, text: str, name: str = "agentlight.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert [d.name for d in config.devices] == ["desk", "log"]
    assert config.devices[1].show == "global"
    assert config.theme.global_look(GlobalState.IDLE).color == Color.parse("#102030")
    assert config.on_exit is not None and config.on_exit.color == Color.parse("green")
    assert config.log_level == "warning"
    # The key is wrapped: it never shows in reprs.
    assert "s3cret" not in repr(config)
    assert "s3cret" not in repr(config.sources[0].options)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (
            '[[sources]]\ntype = "pocketpaw"\nurl = 8888\n[[devices]]\ntype="terminal"',
            "sources[0].url",
            ["8888", "expected a string"],
        ),
        (
            '[[sources]]\ntype = "pocketpal"\n[[devices]]\ntype="terminal"',
            "sources[0].type",
            ["pocketpal", "pocketpaw"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\ncolour="auto"',
            "devices[0].colour",
            ["did you mean 'color'"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\nshow="everything"',
            "devices[0].show",
            ["'everything'", "'session', 'global'"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\nstale_after = "long"\n[[devices]]\ntype="terminal"',
            "sources[0].stale_after",
            ["'long'", "a number"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\n[theme.global.idle]\n'
            'color="blurple"',
            "theme.global.idle.color",
            ["blurple", "CSS color name"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\n[theme.global.sleepy]\n'
            'color="red"',
            "theme.global.sleepy",
            ["sleepy", "idle"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\n[theme.session.error]\n'
            "brightness=3",
            "theme.session.error.brightness",
            ["3", "0 to 1"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\n[theme.session.error]\n'
            'effect="strobe"',
            "theme.session.error.effect",
            ["strobe", "'blink'"],
        ),
        (
            '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"\n[[devices]]\n'
            'type="terminal"\nname="terminal"',
            "devices[1].name",
            ["duplicate"],
        ),
        ('[[sources]]\ntype = "pocketpaw"', "devices", ["at least one"]),
        ('[[devices]]\ntype = "terminal"', "sources", ["at least one"]),
        (
            '[[sources]]\ntype = "pocketpaw"\nurl = "ftp://x"\n[[devices]]\ntype="terminal"',
            "sources[0]",
            ["http://"],
        ),
        (
            '[sources]\ntype = "pocketpaw"\n[[devices]]\ntype="terminal"',
            "sources",
            ["array of tables"],
        ),
        ("[brige]\n", "brige", ["did you mean 'bridge'"]),
    ],
)
def test_errors_name_file_key_value_and_expectation(
    tmp_path: Path, text: str, key: str, words: list[str]
) -> None:
    err = error_for(tmp_path, text)
    message = str(err)
    assert message.startswith(str(tmp_path / "agentlight.toml") + ": " + key), message
    for word in words:
        assert word in message, message


def test_secrets_never_in_errors(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        '[[sources]]\ntype = "pocketpaw"\napi_key = "hunter2"\nurl = 5\n'
        '[[devices]]\ntype="terminal"',
    )
    assert "hunter2" not in str(err)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[[sources]\n")
    assert "not valid TOML" in str(err) and "agentlight.toml" in str(err)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


def test_theme_file_is_layered_and_relative_to_config(tmp_path: Path) -> None:
    write(tmp_path, '[session.thinking]\ncolor = "teal"\n', "mytheme.toml")
    config = load_config(
        write(
            tmp_path,
            '[[sources]]\ntype="pocketpaw"\n[[devices]]\ntype="mock"\n'
            '[theme]\nfile = "mytheme.toml"\n',
        )
    )
    from bridge.pipeline.model import SessionState

    look = config.theme.session_look(SessionState.THINKING, tool=None, channel="x")
    assert look.color == Color.parse("teal")
    bad = write(tmp_path, "[session.thinking]\nperiod = -1\n", "bad.toml")
    with pytest.raises(ConfigError) as info:
        load_config(
            write(
                tmp_path,
                f'[[sources]]\ntype="pocketpaw"\n[[devices]]\ntype="mock"\n'
                f'[theme]\nfile = "{bad}"\n',
            )
        )
    assert str(info.value).startswith(f"{bad}: session.thinking.period")


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    config = load_config(example)
    assert config.sources and config.devices
