"""`reports:` in config.yaml: when the daily digest is posted and where (docs/agents.md).

Apart from the report (service/report.py) so that reading a config imports no store.
"""

import re

from pydantic import BaseModel, ConfigDict, field_validator


class ReportsConfig(BaseModel):
    """`reports:` in config.yaml: the daily digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest_at: str = "09:00"  # local time (top-level `timezone`); "" turns the digest off
    digest_route: str = "staff"

    @field_validator("digest_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time of day; write it like 09:00")
        return value.strip()
