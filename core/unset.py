"""A marker for "argument not given", distinct from None ("set to empty")."""

from enum import Enum
from typing import Final, Literal


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
Unset = Literal[_Unset.UNSET]


def given(**values: object) -> dict[str, object]:
    """The keyword arguments that were given (not UNSET), in order."""
    return {name: value for name, value in values.items() if value is not UNSET}
