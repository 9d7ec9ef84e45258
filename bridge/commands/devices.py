"""``agentlight devices``: what is attached and usable, and how to fix what is not.

Every hardware family's survey (its descriptor's ``survey``, e.g.
:mod:`devices.led.survey`) is run on its own and never stops the others, so the
command always finishes and always says something useful. ``--udev-rules``
prints the rules the families ship (their descriptors' ``udev_rules``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.infra.errors import ConfigError
    from devices.family import DeviceFamily
    from devices.survey import Section


def main(args: argparse.Namespace) -> int:
    if args.udev_rules:
        print(udev_rules(), end="")
        return 0
    sections = survey()
    if args.json:
        import json

        print(json.dumps(render_json(sections), indent=2))
    else:
        print(render_text(sections))
    return 0


def hardware(broken: list[ConfigError] | None = None) -> list[DeviceFamily]:
    """The families with a survey: built in (in ``DRIVERS`` order), then installed ones
    (one that does not load goes to ``broken``)."""
    from devices import families

    return [f for f in families(broken=[] if broken is None else broken) if f.survey]


def survey() -> list[Section]:
    """Look at every hardware family; never raises."""
    from devices.survey import Section

    broken: list[ConfigError] = []
    sections = []
    for family in hardware(broken):
        try:
            sections.append(family.run_survey())
        except Exception as err:  # one family's surprise must not hide the others
            sections.append(Section(family.type, family.type, problem=f"failed: {err}"))
    for error in broken:
        sections.append(Section("plugin", "installed device families", problem=str(error)))
    return sections


def udev_rules() -> str:
    """The udev rules the families ship (``systemd/70-agentlight-*.rules`` link to them).

    The files live in the packages so a pip install prints the very rules a
    checkout installs: one policy (0660, group plugdev, uaccess for the seat).
    Priority 70 matters: uaccess is applied by 73-seat-late.rules.
    """
    return "\n".join(text for f in hardware() if (text := f.udev_text()))


def render_text(sections: list[Section]) -> str:
    """Plain lines; names and serial numbers come from the devices, so they are cleaned."""
    from bridge.text.textsafe import clean

    lines: list[str] = []
    for section in sections:
        lines.append(f"{section.title}:")
        for item in section.found:
            parts = [item.path or "-", item.usb_id, item.name]
            if item.serial_number:
                parts.append(f"serial {item.serial_number}")
            if item.detail:
                parts.append(item.detail)
            lines.append("  " + clean("  ".join(p for p in parts if p)))
            if item.problem:
                lines.append(f"    problem: {clean(item.problem)}")
        if section.problem:
            lines.append(f"  problem: {section.problem}")
        if section.note:
            lines.append(f"  {section.note}")
    return "\n".join(lines)


def render_json(sections: list[Section]) -> dict[str, Any]:
    return {"version": 1, "families": [s.to_json() for s in sections]}


__all__ = ["hardware", "main", "render_json", "render_text", "survey", "udev_rules"]
