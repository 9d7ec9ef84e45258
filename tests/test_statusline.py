"""The one duration formatter: the status line, `agentlight status` and the Stream Deck."""

from __future__ import annotations

import pytest

from bridge.text.statusline import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.99, "0s"),  # cut, not rounded: a stopwatch shows 1s once a second has passed
        (12.7, "12s"),
        (59.99, "59s"),
        (60.0, "1m00s"),
        (185.0, "3m05s"),
        (599.9, "9m59s"),
        # From 10 minutes on the seconds are noise to someone glancing at a light.
        (600.0, "10m"),
        (725.0, "12m"),
        (3599.0, "59m"),
        (3600.0, "1h00m"),
        (3 * 3600 + 7 * 60 + 30, "3h07m"),
        (100 * 3600.0, "100h00m"),
        # A server's clock ahead of ours: a timer never shows less than nothing.
        (-3.5, "0s"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text
