"""The shipped systemd units and udev rules: parsed, checked, verified by systemd where it runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
SYSTEM_UNIT = SYSTEMD / "agentlight.service"
USER_UNIT = SYSTEMD / "user" / "agentlight.service"
INSTALLED = "/opt/agentlight/venv/bin/agentlight"  # where the README's install puts it


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections → key → every value (systemd keys may repeat), with continuation lines."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            assert line.endswith("]"), line
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), line
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def test_system_unit_is_notify_with_watchdog_reload_and_restart() -> None:
    unit = parse_unit(SYSTEM_UNIT)
    service = unit["Service"]
    assert one(service, "Type") == "notify"
    assert one(service, "ExecStart").split()[:2] == [INSTALLED, "run"]
    assert "-c /etc/agentlight/config.toml" in one(service, "ExecStart")
    assert one(service, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(service, "Restart") == "on-failure"
    assert one(service, "RestartPreventExitStatus") == "2"  # a config error is no crash
    assert int(one(service, "WatchdogSec")) >= 10
    assert one(service, "StateDirectory") == "agentlight"
    assert one(service, "WorkingDirectory") == "%S/agentlight"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_system_unit_is_hardened_but_reaches_gpio_serial_and_usb() -> None:
    service = parse_unit(SYSTEM_UNIT)["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "DevicePolicy": "closed",
        "CapabilityBoundingSet": "",
        "RestrictNamespaces": "yes",
    }.items():
        assert one(service, key) == value, key
    assert one(service, "User") == "agentlight"
    # SupplementaryGroups= fails the unit when a group is missing on the host.
    assert "SupplementaryGroups" not in service
    # No PrivateDevices/PrivateUsers: they would hide the hardware or its groups.
    assert "PrivateDevices" not in service and "PrivateUsers" not in service
    allowed = {v.split()[0] for v in service["DeviceAllow"]}
    for needed in ("char-gpiochip", "char-ttyUSB", "char-ttyACM", "char-hidraw", "char-usb_device"):
        assert needed in allowed
    families = one(service, "RestrictAddressFamilies").split()
    assert set(families) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}


def test_user_unit_runs_the_pipx_install_from_the_users_config() -> None:
    unit = parse_unit(USER_UNIT)
    service = unit["Service"]
    assert one(service, "Type") == "notify"
    assert one(service, "ExecStart") == (
        "%h/.local/bin/agentlight run -c %E/agentlight/config.toml"
    )
    assert one(service, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert "WatchdogSec" in service
    assert unit["Install"]["WantedBy"] == ["default.target"]


def test_the_readme_installs_where_the_units_point() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m venv --system-site-packages /opt/agentlight/venv" in readme
    assert "/opt/agentlight/venv/bin/pip install" in readme
    assert "pipx install" in readme
    assert "journalctl -u agentlight" in readme
    for shipped in (
        "agentlight.service",
        "70-agentlight-usblights.rules",
        "agentlight-modules.conf",
    ):
        assert f"systemd/{shipped}" in readme, shipped


def _with_exec_start(unit: Path, tmp_path: Path, stub: Path) -> Path:
    """The unit as shipped, but starting ``stub`` (systemd-analyze checks it exists)."""
    text = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={stub}", unit.read_text())
    copy = tmp_path / unit.name
    copy.write_text(text)
    return copy


@pytest.fixture
def stub(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "agentlight"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path, stub: Path) -> None:
    unit = SYSTEM_UNIT if os.access(INSTALLED, os.X_OK) else _with_exec_start(
        SYSTEM_UNIT, tmp_path, stub
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr


@needs_analyze
def test_systemd_analyze_verify_user_unit_is_clean(tmp_path: Path, stub: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    unit = _with_exec_start(USER_UNIT, tmp_path, stub)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--user", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr


@needs_analyze
def test_systemd_analyze_security_rates_the_system_unit_ok() -> None:
    # --threshold is the exposure x10: fail above 2.5.
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=25", str(SYSTEM_UNIT)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    score = re.search(r"exposure level for agentlight.service: ([\d.]+) (\w+)", result.stdout)
    assert score is not None, result.stdout
    assert float(score.group(1)) <= 2.5 and score.group(2) == "OK"


# -- udev ------------------------------------------------------------------------------

RULE = re.compile(r'\s*([A-Z]+(?:\{[A-Za-z_]+\})?)\s*(==|!=|\+=|=|:=)\s*"([^"]*)"\s*(?:,|$)')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ENV{DEVTYPE}", "ATTR{idVendor}",
              "ATTR{idProduct}", "ATTRS{idVendor}", "ATTRS{idProduct}"}  # fmt: skip
ASSIGN_KEYS = {"MODE", "GROUP", "TAG", "GOTO", "LABEL"}


def udev_rules(path: Path) -> list[list[tuple[str, str, str]]]:
    rules = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pairs = RULE.findall(line)
        rebuilt = ", ".join(f'{k}{op}"{v}"' for k, op, v in pairs)
        assert re.sub(r"\s", "", rebuilt) == re.sub(r"\s", "", line), f"unparsed: {line}"
        for key, op, _ in pairs:
            assert key in MATCH_KEYS | ASSIGN_KEYS, key
            assert (op in ("==", "!=")) == (key in MATCH_KEYS), f"{key}{op} in {line}"
        rules.append(pairs)
    return rules


def test_usb_light_rules_parse_and_grant_plugdev_and_the_seat_user() -> None:
    rules = udev_rules(SYSTEMD / "70-agentlight-usblights.rules")
    device_rules = [r for r in rules if any(k == "MODE" for k, _, _ in r)]
    assert len(device_rules) >= 20
    for rule in device_rules:
        values = {k: v for k, _, v in rule}
        assert values["MODE"] == "0660" and values["GROUP"] == "plugdev"
        assert values["TAG"] == "uaccess"
        assert values.get("SUBSYSTEM") in ("usb", "hidraw")
    labels = [v for r in rules for k, _, v in r if k == "LABEL"]
    gotos = {v for r in rules for k, _, v in r if k == "GOTO"}
    assert gotos == set(labels)


def test_usb_light_rules_cover_every_light_busylight_core_knows() -> None:
    busylight_core = pytest.importorskip("busylight_core")
    known: set[tuple[str, str]] = set()

    def walk(cls: type) -> None:
        sub: type
        for sub in cls.__subclasses__():
            for vid, pid in getattr(sub, "supported_device_ids", None) or {}:
                known.add((f"{vid:04x}", f"{pid:04x}"))
            walk(sub)

    walk(busylight_core.Light)
    covered = set()
    for rule in udev_rules(SYSTEMD / "70-agentlight-usblights.rules"):
        values = {k.split("{")[-1].rstrip("}"): v for k, _, v in rule}
        if "idVendor" in values:
            covered.add((values["idVendor"], values["idProduct"]))
    # MuteSync is a generic CP210x serial bridge: left to the dialout group on purpose.
    assert known - covered == {("10c4", "ea60")}
