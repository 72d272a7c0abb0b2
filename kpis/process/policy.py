"""The expected order flow (the ``process`` section of the KPI policy), which conformance checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A step of an expected path: one stage, or a group of stages that may happen in any order.
Step = str | list[str]

CANONICAL: list[Step] = [
    "capture",
    "validation",
    "credit",
    "pricing",
    "allocation",
    "pick",
    "pack",
    "ship",
    "deliver",
    "invoice",
]


def _check_path(value: list[Step]) -> list[Step]:
    seen: set[str] = set()
    if not value:
        raise ValueError("an expected path needs at least one stage")
    for step in value:
        for stage in [step] if isinstance(step, str) else step:
            if not stage or not stage.strip():
                raise ValueError("a stage name must not be empty")
            if stage in seen:
                raise ValueError(f"stage {stage!r} appears twice in the path")
            seen.add(stage)
        if isinstance(step, list) and not step:
            raise ValueError("a group of stages must not be empty")
    return value


class ProcessPolicy(BaseModel):
    """The canonical flow, the expected path of each channel, and stages whose repetition is normal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expected_path: list[Step] = Field(
        default_factory=lambda: list(CANONICAL),
        description="the stages every order is expected to pass, in order; a list item that is itself "
        "a list is a group whose stages may come in any order",
    )
    expected_paths: dict[str, list[Step]] = Field(
        default_factory=dict, description="order.channel -> its expected path (default: expected_path)"
    )
    repeatable_stages: list[str] = Field(
        default_factory=list,
        description="stages whose activities may repeat without counting as rework (e.g. carrier scans)",
    )

    @field_validator("expected_path")
    @classmethod
    def _path(cls, value: list[Step]) -> list[Step]:
        return _check_path(value)

    @field_validator("expected_paths")
    @classmethod
    def _paths(cls, value: dict[str, list[Step]]) -> dict[str, list[Step]]:
        for channel, path in value.items():
            if not channel:
                raise ValueError("a channel name must not be empty")
            try:
                _check_path(path)
            except ValueError as exc:
                raise ValueError(f"channel {channel!r}: {exc}") from None
        return value

    def parameters(self) -> dict[str, Any]:
        """Bound parameters of ``deviations.sql``: index 1 is the default path."""
        channels = ["", *self.expected_paths]
        paths = [self.expected_path, *self.expected_paths.values()]
        stages, ranks = [], []
        for path in paths:
            flat, rank = [], []
            for i, step in enumerate(path, start=1):
                for stage in [step] if isinstance(step, str) else step:
                    flat.append(stage)
                    rank.append(i)
            stages.append(flat)
            ranks.append(rank)
        return {
            "path_channels": channels,
            "path_stages": stages,
            "path_ranks": ranks,
            "repeatable": list(self.repeatable_stages),
        }
