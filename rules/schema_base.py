"""What every model of the rule language shares: strict frozen models, one-or-many lists and
the registered platforms."""

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from core.platforms import platforms


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def one_or_many(value: object) -> object:
    """`platform: x` is short for `platform: [x]`."""
    return [value] if isinstance(value, str | int | float) else value


OneOrMany = BeforeValidator(one_or_many)


def _registered_platform(value: object) -> str:
    """A platform key some descriptor registered; refused like a Literal, with the choices."""
    known = [info.key for info in platforms()]
    if not known:  # a programming error, not a config problem: say so rather than refuse all
        raise RuntimeError("no platform registered: discover service.platforms before validating")
    if isinstance(value, str) and value in known:
        return value
    expected = " or ".join(f"'{key}'" for key in known)
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


Platform = Annotated[str, PlainValidator(_registered_platform)]
