"""Figures, budgets, the table on stdout and the JSON file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Figure:
    """One measured value and, when it has one, its budget.

    :param kind: ``max``: the value must stay at or below the budget; ``min``: at or above.
    """

    key: str
    label: str
    value: float | None
    unit: str = ""
    budget: float | None = None
    kind: Literal["max", "min"] = "max"
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.budget is None:
            return None
        if self.value is None or math.isnan(self.value):
            return False
        return self.value <= self.budget if self.kind == "max" else self.value >= self.budget

    @property
    def miss(self) -> str:
        """By how much the budget is missed, empty when it is met (or there is none)."""
        if self.ok is not False:
            return ""
        if self.value is None or self.budget is None or math.isnan(self.value):
            return "not measured"
        gap = abs(self.value - self.budget)
        word = "over" if self.kind == "max" else "short"
        if self.budget:
            return f"{_num(gap)} {self.unit} {word} ({gap / abs(self.budget):.0%})".replace(
                "  ", " "
            )
        return f"{_num(gap)} {self.unit} {word}".replace("  ", " ")

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["miss"] = self.miss or None
        if isinstance(self.value, float) and math.isinf(self.value):
            data["value"] = "inf"  # JSON has no infinity
        return data


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: a value that was really measured, never interpolated."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _num(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    magnitude = abs(value)
    if magnitude >= 1000 or value == int(value):
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _cell(value: float | None, unit: str) -> str:
    text = _num(value)
    return f"{text} {unit}".strip() if text not in ("—",) else text


def table(figures: Sequence[Figure]) -> str:
    header = ["figure", "value", "budget", "", "missed by", "note"]
    rows = [header]
    for f in figures:
        sign = "≤" if f.kind == "max" else "≥"
        budget = f"{sign} {_cell(f.budget, f.unit)}" if f.budget is not None else ""
        mark = {True: "✓", False: "✗", None: ""}[f.ok]
        rows.append([f.label, _cell(f.value, f.unit), budget, mark, f.miss, f.note])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            # Numbers right-aligned, text left-aligned.
            cell.rjust(w) if i in (1, 2) and n else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(
    path: Path, figures: Sequence[Figure], meta: dict[str, Any], details: dict[str, Any]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"meta": meta, "figures": [f.as_json() for f in figures], "details": details}
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
