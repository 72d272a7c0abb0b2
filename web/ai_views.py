"""What the AI pages draw: the calibration chart's geometry (SVG, drawn by the template) and the
PSI bars of feature drift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CalibrationChart:
    size: int
    pad: int
    diagonal: tuple[float, float, float, float]
    points: str
    dots: list[tuple[float, float, float, str]]  # x, y, radius, tooltip
    ticks: list[tuple[float, str]]


def calibration_chart(bins: list[dict[str, Any]], size: int = 240) -> CalibrationChart | None:
    """Observed against predicted rate per bin (a well calibrated model sits on the diagonal)."""
    usable = [b for b in bins if b.get("count")]
    if not usable:
        return None
    pad = 28
    plot = size - 2 * pad
    total = sum(int(b["count"]) for b in usable)

    def xy(px: float, py: float) -> tuple[float, float]:
        return round(pad + plot * px, 1), round(pad + plot * (1 - py), 1)

    points = [xy(float(b["predicted"]), float(b["observed"])) for b in usable]
    dots = [
        (
            *xy(float(b["predicted"]), float(b["observed"])),
            round(2.5 + 6 * (int(b["count"]) / total) ** 0.5, 1),
            f"predicted {float(b['predicted']):.0%}, observed {float(b['observed']):.0%} ({int(b['count'])} predictions)",
        )
        for b in usable
    ]
    ticks = [(round(pad + plot * v, 1), f"{v:.0%}") for v in (0.0, 0.5, 1.0)]
    return CalibrationChart(
        size, pad, (*xy(0, 0), *xy(1, 1)), " ".join(f"{x},{y}" for x, y in points), dots, ticks
    )


@dataclass
class DriftBar:
    feature: str
    psi: float
    width: float
    level: str


def drift_bars(psi: dict[str, float], width: int = 260) -> list[DriftBar]:
    """PSI per feature: under 0.1 stable, 0.1-0.25 shifting, above 0.25 drifted."""
    top = max([*psi.values(), 0.3])
    return [
        DriftBar(
            name,
            value,
            round(width * value / top, 1),
            "ok" if value < 0.1 else "warn" if value < 0.25 else "bad",
        )
        for name, value in sorted(psi.items(), key=lambda kv: -kv[1])
    ]
