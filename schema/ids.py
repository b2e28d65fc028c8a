"""Global IDs in arguments: plain `ID` strings, decoded here.

Only the canonical spelling of an ID (schema.scalars.split_global_id) names an object; any other
string, and an ID of another type, names nothing the caller can reach, so callers treat None
exactly like a missing row. Relay's own GlobalID argument type would accept `Task:016`,
`Task: 16 ` or `Task:١٦` for task 16, and base64 with stray characters in it.
"""

from typing import ClassVar

from strawberry import ID, relay

from schema.scalars import split_global_id


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
