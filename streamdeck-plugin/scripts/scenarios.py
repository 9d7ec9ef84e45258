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

from bridge.api.documents import status_document
from bridge.commands.preview import scenarios
from bridge.pipeline.mapping import Mapper
from bridge.pipeline.theme import default_theme


def main() -> None:
    now = time.time()
    theme = default_theme()
    out: dict[str, Any] = {}
    for name, (status, details) in scenarios(now).items():
        mono = time.monotonic()
        # The very document GET /v1/status serves for this status.
        doc = status_document(Mapper(theme).map(status, mono), now, mono)
        out[name] = {"status": doc, "details": details}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
