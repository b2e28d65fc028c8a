from typing import ClassVar

from strawberry import relay


def decode_pk(global_id: relay.GlobalID, type_name: str) -> int | None:
    """The primary key inside a global ID of the expected type, else None.

    A well-formed ID of another type, or with a non-numeric key, names nothing the caller
    can reach, so callers treat None exactly like a missing row.
    """
    if global_id.type_name != type_name:
        return None
    try:
        return int(global_id.node_id)
    except ValueError:
        return None


def decode_pks(global_ids: list[relay.GlobalID], type_name: str) -> tuple[list[int], bool]:
    """(primary keys, whether every ID was of the expected type)."""
    pks = [decode_pk(gid, type_name) for gid in global_ids]
    return [pk for pk in pks if pk is not None], all(pk is not None for pk in pks)


class ModelNode(relay.Node):
    """A Relay node whose global ID wraps the model's primary key."""

    _id_attr: ClassVar[str] = "pk"
