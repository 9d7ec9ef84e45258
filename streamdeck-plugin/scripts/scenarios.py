"""Print the status documents of ``agentlight preview``'s scenarios, with their looks.

The README's pictures of the plugin's keys are drawn from these: the same states the
driver's pictures (docs/streamdeck/*.png) show, with the looks agentlight's own theme gives
them — taken from agentlight, so the plugin never holds a copy of the theme. Run with the
Python that has agentlight installed: ``python scripts/scenarios.py > scenarios.json``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bridge.commands.preview import scenarios
from bridge.pipeline.looks import Look
from bridge.pipeline.mapping import Mapper
from bridge.pipeline.status_json import status_to_json
from bridge.pipeline.theme import default_theme


def look_json(look: Look) -> dict[str, Any]:
    return {
        "color": look.color.hex,
        "effect": look.effect.value,
        "period": look.period,
        "brightness": look.brightness,
        "label": look.label,
    }


def main() -> None:
    now = time.time()
    theme = default_theme()
    out: dict[str, Any] = {}
    for name, (status, details) in scenarios(now).items():
        mapped = Mapper(theme).map(status, time.monotonic())
        doc = status_to_json(status, now)
        doc["looks"] = {"global": look_json(mapped.global_look)}
        looks = {(m.session.source, m.session.key): m.look for m in mapped.sessions}
        for item in doc["sessions"]:
            item["look"] = look_json(looks[(item["source"], item["key"])])
        out[name] = {"status": doc, "details": details}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
