"""Window rules: spikes, frequencies and flatlines over the stored mentions, as frozen models."""

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from core.duration import Duration
from rules.schema_base import OneOrMany, Platform, Strict


class WindowFilter(Strict):
    """Which stored mentions a window rule counts; all of them when empty."""

    platform: Annotated[list[Platform], OneOrMany] = Field(default_factory=list)
    source: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # globs
    rules: Annotated[list[str], OneOrMany] = Field(default_factory=list)  # matched any of these


class _Window(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    enabled: bool = True
    owner: str = Field(default="", max_length=64)
    when: WindowFilter = Field(default_factory=WindowFilter)
    route: str = "staff"


class SpikeWindow(_Window):
    """Volume in the `last` span is `factor` times the rate of the `baseline` span before it."""

    kind: Literal["spike"]
    last: Duration = timedelta(hours=1)
    baseline: Duration = timedelta(hours=12)
    factor: float = Field(default=3.0, gt=1, le=1000)
    at_least: int = Field(default=10, ge=1)  # never fire on fewer mentions than this

    @model_validator(mode="after")
    def _spans(self) -> "SpikeWindow":
        if self.last < timedelta(minutes=1):
            raise ValueError("last: must be at least 1m")
        if self.baseline < self.last:
            raise ValueError("baseline must be at least as long as last")
        return self


class FrequencyWindow(_Window):
    """`count` or more mentions from one author (or conversation, or in all) within `within`."""

    kind: Literal["frequency"]
    per: Literal["author", "conversation", "all"] = "author"
    count: int = Field(ge=2)
    within: Duration

    @field_validator("within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("within: must be at least 1m")
        return value


class FlatlineWindow(_Window):
    """No mention at all from the matching sources for `quiet_for`: usually a broken listener."""

    kind: Literal["flatline"]
    quiet_for: Duration

    @field_validator("quiet_for")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("quiet_for: must be at least 1m")
        return value

    @model_validator(mode="after")
    def _sources_only(self) -> "FlatlineWindow":
        if self.when.rules:
            raise ValueError(
                "flatline watches sources going quiet; filter it by platform or source, not rules"
            )
        return self


Window = Annotated[SpikeWindow | FrequencyWindow | FlatlineWindow, Field(discriminator="kind")]
