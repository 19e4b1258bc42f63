"""The rule language brand managers write in YAML, as frozen pydantic models.

    rules:
      - name: refunds-and-legal          # unique, shown in alerts and reports
        when:                            # every condition given must hold
          keywords: [refund, broken, cancelled, lawsuit]
        actions: [alert]                 # or: - {kind: alert, route: vip}

Unknown keys are errors (with a "did you mean"), never silently ignored.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PLATFORMS = ("x", "reddit", "telegram")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(BaseModel):
    """All the conditions given must hold; `any`, `all` and `not` combine nested conditions."""

    keywords: list[str] = Field(default_factory=list)  # at least one, whole words or phrases
    exclude: list[str] = Field(default_factory=list)  # none of these
    platform: list[Literal["x", "reddit", "telegram"]] = Field(default_factory=list)
    sentiment_below: float | None = Field(default=None, ge=-1, le=1)
    sentiment_above: float | None = Field(default=None, ge=-1, le=1)
    followers_at_least: int | None = Field(default=None, ge=0)
    needs_response: bool | None = None  # the default triage's verdict
    urgency_at_least: int | None = Field(default=None, ge=0, le=100)
    any: list["Condition"] = Field(default_factory=list)
    all: list["Condition"] = Field(default_factory=list)
    not_: "Condition | None" = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("keywords", "exclude")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not str(term).strip():
                raise ValueError("keywords must not be empty strings")
        return [str(term).strip() for term in terms]

    @field_validator("platform", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _sane_range(self) -> "Condition":
        low, high = self.sentiment_above, self.sentiment_below
        if low is not None and high is not None and low >= high:
            raise ValueError(
                f"sentiment_above ({low}) must be lower than sentiment_below ({high}): "
                "no mention can match both"
            )
        return self


class AlertAction(_Strict):
    kind: Literal["alert"]
    route: str = "staff"  # a name under telegram.routes; "staff" is the alert chat


class IgnoreAction(_Strict):
    """Drop the mention: no action of any rule is taken for it. Put spam rules first."""

    kind: Literal["ignore"]


class StopAction(_Strict):
    """Later rules are not evaluated for this mention."""

    kind: Literal["stop"]


Action = Annotated[AlertAction | IgnoreAction | StopAction, Field(discriminator="kind")]


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    enabled: bool = True
    when: Condition = Field(default_factory=Condition)
    actions: list[Action] = Field(min_length=1)

    @field_validator("actions", mode="before")
    @classmethod
    def _shorthand(cls, actions: object) -> object:
        """`actions: [alert, stop]` is short for `[{kind: alert}, {kind: stop}]`."""
        if isinstance(actions, str):
            actions = [actions]
        if isinstance(actions, list):
            return [{"kind": a} if isinstance(a, str) else a for a in actions]
        return actions


class UrgencyWeights(_Strict):
    """How the urgency score (0–100) is built; see README "Urgency"."""

    triage: float = Field(default=1.0, ge=0, le=5)  # multiplier on the default triage's points
    keyword: int = Field(default=10, ge=0, le=100)  # per rule keyword that matched
    reach: int = Field(default=20, ge=0, le=100)  # for 1M followers; log-scaled below that
    verified: int = Field(default=5, ge=0, le=100)


class RulesConfig(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    urgency: UrgencyWeights = Field(default_factory=UrgencyWeights)

    @model_validator(mode="after")
    def _unique_names(self) -> "RulesConfig":
        names = [rule.name for rule in self.rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError("rule names must be unique; repeated: " + ", ".join(repeated))
        return self
