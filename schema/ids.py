"""Global IDs in arguments: plain `ID` strings, decoded here.

Only the canonical spelling of an ID (`split_global_id`) names an object; any other
string, and an ID of another type, names nothing the caller can reach, so callers treat None
exactly like a missing row. Relay's own GlobalID argument type would accept `Task:016`,
`Task: 16 ` or `Task:١٦` for task 16, and base64 with stray characters in it.
"""

import base64
import binascii
import re
from typing import ClassVar

from strawberry import ID, relay

_CANONICAL_KEY = re.compile(r"[1-9][0-9]*\Z", re.ASCII)
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
MAX_PK = 2**63 - 1  # the largest key a database column here can hold


def split_global_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key) of a canonical global ID, else None."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        return None
    type_name, colon, key = decoded.partition(":")
    if not colon or not _TYPE_NAME.match(type_name) or not _CANONICAL_KEY.match(key):
        return None
    if base64.b64encode(decoded.encode()).decode() != value or int(key) > MAX_PK:
        return None
    return type_name, int(key)


def decode_pk(global_id: ID | str, type_name: str) -> int | None:
    """The primary key inside a canonical global ID of the expected type, else None."""
    parts = split_global_id(global_id)
    if parts is None or parts[0] != type_name:
        return None
    return parts[1]


def decode_pks(global_ids: list[ID], type_name: str) -> list[int]:
    """Primary keys for a list of IDs, to be checked by a service that reports missing rows.

    An ID that names no object of this type stands for a row that cannot exist (primary keys
    are positive, so each distinct one gets its own negative key): the service then answers it
    exactly as it answers a missing row, same message, same count.
    """
    strangers: dict[str, int] = {}
    pks = []
    for global_id in global_ids:
        pk = decode_pk(global_id, type_name)
        if pk is None:
            pk = strangers.setdefault(global_id, -1 - len(strangers))
        pks.append(pk)
    return pks


class ModelNode(relay.Node):
    """A Relay node whose global ID wraps the model's primary key."""

    _id_attr: ClassVar[str] = "pk"
