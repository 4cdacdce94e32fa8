"""Number formats of the dashboard's tiles and tables; the browser test formats the marts'
numbers with the same function to compare them with what the page shows."""

from __future__ import annotations

import math


def fmt(value: object, kind: str) -> str:
    """kind: int (12,345), money ($1,234.56), pct (1.23%), ratio (2.50); '–' for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if kind == "int":
        return f"{round(v):,}"
    if kind == "money":
        return f"${v:,.2f}"
    if kind == "pct":
        return f"{v * 100:.2f}%"
    return f"{v:.2f}"
