"""``agentlight hooks install|uninstall|status``: settings files merged without touching
anything else, idempotent, backed up, and given back byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bridge.sources.hooks.install import (
    AGENTS,
    OPENCODE_PLUGIN,
    SettingsError,
    install,
    is_ours,
    settings_path,
    uninstall,
    wired,
)

ROOT = Path(__file__).resolve().parent.parent
CMD = "/opt/venv/bin/agentlight hook {agent}"

# Each agent's settings as a user may already have them: other settings, other hooks
# on events agentlight also uses, in the layout the agent itself writes.
EXISTING = {
    "claude": {
        "model": "opus",
        "permissions": {"allow": ["Bash(npm test:*)"], "deny": []},
        "hooks": {
            "PreToolUse": [
                {
                    "matcher": "Bash",
                    "hooks": [{"type": "command", "command": "~/bin/guard.sh", "timeout": 10}],
                }
            ],
            "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
        },
        "statusLine": {"type": "command", "command": "~/bin/status.sh"},
    },
    "codex": {
        "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "python3 ~/.codex/stop.py"}]}],
        }
    },
    "gemini": {
        "theme": "GitHub",
        "hooks": {
            "BeforeTool": [
                {
                    "matcher": "run_shell_command",
                    "hooks": [{"type": "command", "command": "./lint.sh", "timeout": 30000}],
                }
            ]
        },
        "ui": {"hideTips": True, "title": "Café ✓"},
    },
    "cursor": {
        "version": 1,
        "hooks": {"afterFileEdit": [{"command": "./format.sh"}], "stop": [{"command": "./x"}]},
    },
}


def layouts(data: object) -> list[str]:
    """The layouts agents and people write JSON in: 2 spaces (Claude, Cursor), 4, tabs."""
    return [
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        json.dumps(data, indent=4, ensure_ascii=False) + "\n",
        json.dumps(data, indent="\t", ensure_ascii=False),
    ]


@pytest.mark.parametrize("agent", sorted(EXISTING))
@pytest.mark.parametrize("layout", [0, 1, 2])
def test_install_then_uninstall_gives_back_the_same_bytes(agent: str, layout: int) -> None:
    spec = AGENTS[agent]
    before = layouts(EXISTING[agent])[layout]
    command = CMD.format(agent=agent)
    after = install(spec, before, command)
    assert after != before
    assert install(spec, after, command) == after  # idempotent
    assert uninstall(spec, after) == before
    assert wired(spec, after) == (len(spec.events), len(spec.events))
    assert wired(spec, before) == (0, len(spec.events))
    # everything that was there is still there, ours added next to it
    old, new = json.loads(before), json.loads(after)
    for key in old:
        if key != "hooks":
            assert new[key] == old[key]
    for event, entries in old["hooks"].items():
        assert new["hooks"][event][: len(entries)] == entries
    ours = [h for e in new["hooks"].values() for h in e if command in json.dumps(h)]
    assert len(ours) == len(spec.events)


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_a_new_file_is_made_and_uninstall_removes_it(agent: str) -> None:
    spec = AGENTS[agent]
    made = install(spec, "", CMD.format(agent=agent))
    data = json.loads(made)
    assert set(data["hooks"]) == set(spec.events)
    if agent == "cursor":
        assert data["version"] == 1
    assert uninstall(spec, made) == ""


def test_a_moved_agentlight_is_updated_in_place() -> None:
    spec = AGENTS["claude"]
    text = layouts(EXISTING["claude"])[0]
    old = install(spec, text, "/old/bin/agentlight hook claude")
    new = install(spec, old, "/new/bin/agentlight hook claude")
    assert "/old/bin" not in new and new.count("/new/bin/agentlight hook claude") == len(
        spec.events
    )
    assert uninstall(spec, new) == text


def test_a_hook_the_user_put_next_to_ours_stays() -> None:
    spec = AGENTS["claude"]
    text = install(spec, "", CMD.format(agent="claude"))
    data = json.loads(text)
    data["hooks"]["Stop"][0]["hooks"].append({"type": "command", "command": "say bye"})
    out = json.loads(uninstall(spec, json.dumps(data, indent=2) + "\n"))
    assert out == {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say bye"}]}]}}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"hooks": {"Stop": [}', "not valid JSON"),
        ("[1, 2]", "does not hold a JSON object"),
        ('{\n  // my settings\n  "model": "opus"\n}\n', "not valid JSON"),
        ('{"model":   "opus"}\n', "laid out by hand"),
        ('{\n  "hooks": []\n}\n', "'hooks' is not an object"),
        ('{\n  "hooks": {\n    "Stop": {}\n  }\n}\n', "hooks.Stop is not a list"),
    ],
)
def test_a_file_agentlight_cannot_keep_as_it_is_is_left_alone(text: str, why: str) -> None:
    with pytest.raises(SettingsError, match=why):
        install(AGENTS["claude"], text, CMD.format(agent="claude"))


def test_only_agentlights_own_commands_are_ours() -> None:
    assert is_ours("/home/me/.venv/bin/agentlight hook claude", "claude")
    assert is_ours("/usr/bin/python3 -m bridge hook codex", "codex")
    assert not is_ours("/home/me/.venv/bin/agentlight hook claude", "codex")
    assert not is_ours("my-hook claude", "claude")
    assert not is_ours("notagentlight-x hook", "claude")
    assert not is_ours(None, "claude")


# -- the command ----------------------------------------------------------------------------


def agentlight(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    env["XDG_RUNTIME_DIR"] = str(home / "run")
    return subprocess.run(
        [sys.executable, "-m", "bridge", "hooks", *args], env=env, capture_output=True, text=True
    )


def test_the_command_round_trip_with_a_backup(tmp_path: Path) -> None:
    path = settings_path("claude", None, str(tmp_path))
    path.parent.mkdir(parents=True)
    before = layouts(EXISTING["claude"])[0]
    path.write_text(before)
    dry = agentlight(tmp_path, "install", "claude", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("---") and "+" in dry.stdout
    assert path.read_text() == before  # a dry run changes nothing
    done = agentlight(tmp_path, "install", "claude")
    assert done.returncode == 0, done.stderr
    assert "wired to agentlight" in done.stdout
    installed = path.read_text()
    assert " hook claude" in installed
    assert (path.parent / "settings.json.agentlight.bak").read_text() == before
    again = agentlight(tmp_path, "install", "claude")
    assert "nothing to do" in again.stdout and path.read_text() == installed
    status = agentlight(tmp_path, "status")
    assert "claude    wired" in status.stdout and "codex     not wired" in status.stdout
    assert agentlight(tmp_path, "uninstall", "claude").returncode == 0
    assert path.read_text() == before


def test_the_command_leaves_a_broken_file_alone(tmp_path: Path) -> None:
    path = settings_path("gemini", None, str(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text('{"theme": "x",}')
    done = agentlight(tmp_path, "install", "gemini")
    assert done.returncode == 1
    assert "not valid JSON" in done.stderr and "changed nothing" in done.stderr
    assert path.read_text() == '{"theme": "x",}'


def test_a_project_gets_its_own_settings(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    done = agentlight(tmp_path, "install", "codex", "--project", str(project))
    assert done.returncode == 0, done.stderr
    assert "codex_hooks = true" in done.stdout  # what else Codex needs, said
    assert (project / ".codex" / "hooks.json").exists()
    assert not (tmp_path / ".codex").exists()


def test_opencode_gets_a_plugin_file(tmp_path: Path) -> None:
    path = settings_path("opencode", None, str(tmp_path))
    assert agentlight(tmp_path, "install", "opencode").returncode == 0
    assert path.read_text() == OPENCODE_PLUGIN
    assert '"session.status"' in OPENCODE_PLUGIN and "/v1/hooks/opencode" in OPENCODE_PLUGIN
    assert agentlight(tmp_path, "uninstall", "opencode").returncode == 0
    assert not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("// mine\n")
    assert agentlight(tmp_path, "install", "opencode").returncode == 1
    assert path.read_text() == "// mine\n"


def test_an_opencode_plugin_an_older_agentlight_wrote_is_still_ours(tmp_path: Path) -> None:
    path = settings_path("opencode", None, str(tmp_path))
    path.parent.mkdir(parents=True)
    before = (ROOT / "tests/fixtures/hooks/opencode/plugin-written-before.txt").read_text()
    path.write_text(before)
    status = agentlight(tmp_path, "status", "opencode")
    assert "older agentlight" in status.stdout
    assert agentlight(tmp_path, "install", "opencode").returncode == 0  # upgraded in place
    assert path.read_text() == OPENCODE_PLUGIN
    path.write_text(before)
    assert agentlight(tmp_path, "uninstall", "opencode").returncode == 0
    assert not path.exists()


class Recorder(BaseHTTPRequestHandler):
    posted: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.posted.append((self.path, self.headers.get("Authorization") or "", body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.skipif(shutil.which("node") is None, reason="runs the plugin in Node")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux's /proc")
def test_the_opencode_plugin_posts_only_to_a_bridge_it_can_trust(tmp_path: Path) -> None:
    from bridge.api import discovery
    from bridge.infra.secret import Secret

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        plugin = tmp_path / "agentlight.mjs"
        plugin.write_text(OPENCODE_PLUGIN)
        run = tmp_path / "run"
        api = run / "agentlight" / "api.json"
        discovery.write(api, url, Secret("k" * 32))
        script = (
            f"const m = await import({json.dumps(str(plugin))});"
            "const hooks = await m.AgentLight({ directory: '/w' });"
            "const event = { type: 'session.idle', properties: { sessionID: 's' } };"
            "await hooks.event({ event });"
        )
        env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "TMPDIR": str(tmp_path)}
        env.pop("RUNTIME_DIRECTORY", None)

        def post_once() -> int:
            Recorder.posted.clear()
            done = subprocess.run(
                ["node", "--input-type=module", "-e", script],
                env=env, capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert done.returncode == 0 and done.stdout == "", done.stderr
            return len(Recorder.posted)

        assert post_once() == 1
        path, auth, body = Recorder.posted[0]
        assert path == "/v1/hooks/opencode" and auth == "Bearer " + "k" * 32
        assert json.loads(body)["type"] == "session.idle"
        api.parent.chmod(0o777)  # another user could have planted it
        assert post_once() == 0
        api.parent.chmod(0o700)
        data = json.loads(api.read_text())
        data["started"] -= 1  # its pid is now another process's
        api.write_text(json.dumps(data))
        assert post_once() == 0
        api.unlink()
        api.symlink_to(tmp_path / "elsewhere.json")
        (tmp_path / "elsewhere.json").write_text(json.dumps({**data, "started": None}))
        assert post_once() == 0  # a link is not followed
    finally:
        server.shutdown()
        server.server_close()
