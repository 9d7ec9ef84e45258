"""``test-pattern`` shows every look the theme has, each with its words, and says at
once when a device cannot show it; a tool the server does not name has words too."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from bridge.commands.show import made_up_status
from bridge.commands.test_pattern import describe, pattern, run_test_pattern
from bridge.infra.config import parse_config
from bridge.pipeline.mapping import NO_TOOL, Mapper
from bridge.pipeline.model import AgentStatus, GlobalState, SessionState
from bridge.pipeline.theme import default_theme, parse_theme


@pytest.mark.parametrize(
    "extra", [{}, {"tool": {f"tool_{i}": {"color": "#102030"} for i in range(6)}}]
)
def test_the_pattern_is_every_look_of_the_theme_each_with_its_words(
    extra: dict[str, Any],
) -> None:
    theme = parse_theme(extra, file="t", base=default_theme())
    steps = pattern(theme)
    names = [s.name for s in steps]
    assert names == [
        *(f"global {g.value}" for g in GlobalState),
        *(f"session {s.value}" for s in SessionState),
        *(f"tool {t}" for t in sorted(theme.tools)),
    ]
    assert "tool web_search" in names
    for step in steps:
        if step.look.label:  # a look with words says them, placeholders filled
            text = describe(step.look, step.name)
            assert text.startswith('"') and '""' not in text and "{" not in text, step.name


@pytest.mark.parametrize("tool", [None, "read_file", "bash"])
def test_a_running_tool_has_words_whether_or_not_it_is_named(tool: str | None) -> None:
    status = AgentStatus.fold((made_up_status("tool_running", tool=tool),))
    mapped = Mapper(default_theme()).map(status, time.monotonic())
    label = mapped.sessions[0].look.label
    assert label == {None: NO_TOOL, "read_file": "read_file", "bash": "bash"}[tool]
    assert label != "tool"


async def test_a_device_that_cannot_open_is_said_at_once_not_after_the_pattern() -> None:
    config = parse_config(
        {
            "sources": [{"type": "pocketpaw"}],
            "devices": [{"type": "serial", "name": "strip", "port": "/dev/ttyNOPE7", "leds": 3}],
        },
        file="t",
    )
    out = io.StringIO()
    assert await run_test_pattern(config, step=30.0, out=out) == 1  # 30 s a look: not waited
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("device strip: cannot show the pattern: ")
    assert "is not there" in lines[0]
    assert lines[-1] == "no device could show the pattern; devices left dark"
    assert not any("/" in line.split()[0] for line in lines)  # no "1/19" step was shown
