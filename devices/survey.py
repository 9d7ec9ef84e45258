"""What a hardware family's survey returns to ``agentlight devices``, and shared helpers.

A survey (named in the family's :class:`~devices.family.DeviceFamily`) looks at what
is attached and never raises: a missing library, a missing native library (hidapi,
lgpio) or a permission problem becomes one ``problem`` line naming the fix (the
package to install, the group to join, the udev rule), so the command always
finishes and always says something useful.
"""

from __future__ import annotations

import grp
import os
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Found:
    """One thing found: what it is, where, and how to point a config at it."""

    kind: str  # the family's type: serial, usblight, streamdeck, gpio
    name: str
    path: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str = ""
    detail: str = ""
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["usb_id"] = self.usb_id
        return data

    @property
    def usb_id(self) -> str:
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04x}:{self.pid:04x}"


@dataclass
class Section:
    """One family: what was found, or why nothing could be looked at."""

    kind: str
    title: str
    found: list[Found] = field(default_factory=list)
    problem: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "found": [f.to_json() for f in self.found],
            "problem": self.problem,
            "note": self.note,
        }


def access_problem(path: str, usual_group: str) -> str:
    """Why this process cannot read and write ``path``, with the fix; "" when it can."""
    if not os.path.exists(path) or os.access(path, os.R_OK | os.W_OK):
        return ""
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (KeyError, OSError):
        group = usual_group
    return f"no permission to open {path}: sudo usermod -aG {group} $USER, then log in again"


UDEV_INSTALL = (
    "agentlight devices --udev-rules | sudo tee /etc/udev/rules.d/70-agentlight.rules "
    "&& sudo udevadm control -R"
)


def udev_fix(path: str) -> str:
    """The fix for a USB device this user may not open: the shipped udev rules."""
    return f"no permission to open {path}: {UDEV_INSTALL}, then replug"


__all__ = ["UDEV_INSTALL", "Found", "Section", "access_problem", "udev_fix"]
