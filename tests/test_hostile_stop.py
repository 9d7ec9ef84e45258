"""Issue 30: SIGTERM under each source's worst legal input leaves every device dark in 1 s.

The inputs are the benchmark's (``benchmarks/hostile.py``: PocketPaw's 2 MiB frames, an
event-bus flood, AgP's 200 sessions of 1 MiB replies, MQTT's 256 bridges of 10,000
sessions, hooks flooding the API with 200 growing transcripts and 32 held requests), fed
to a real ``agentlight run`` for two seconds before the signal; the benchmark runs them
longer and adds peak RSS (≤ 60 MB).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import hostile

SOURCES = ["pocketpaw", "bus", "agp", "mqtt", "hooks"]


@pytest.mark.parametrize("name", SOURCES)
async def test_sigterm_under_the_worst_input_leaves_every_device_dark_within_a_second(
    name: str, tmp_path: Path
) -> None:
    result = await getattr(hostile, name)(tmp_path, 2.0)
    if result is None:
        pytest.skip("mosquitto is not installed")
    # dark_s is NaN when the record device never wrote its final line (left lit).
    assert result["dark_s"] <= 1.0, result
    assert result["exit_s"] <= 1.5, result
