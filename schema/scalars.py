"""Scalars as clients need them described (code generators read `@specifiedBy`), parsed strictly.

- DateTime (a scalar override; its name stays the same): the database stores UTC. Python reads
  `9999-12-31T23:59:59-14:00` and `0001-01-01T00:00:00+14:00`, but converting them overflows
  the datetime range and the first write or comparison in SQL fails. Refused here, for every
  argument and input field at once, with `out_of_range`.
- IDs: each object has exactly one spelling of its global ID: standard padded base64 of
  `<Type>:<primary key>`, the key in decimal ASCII digits with no sign, leading zero, space or
  underscore (all of which `int()` accepts). graphql-core forbids redefining the built-in `ID`
  scalar, so arguments are plain `ID` strings decoded by `schema.ids.split_global_id`.
"""

import dataclasses
from datetime import UTC, datetime

from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.error_codes import InputRefused


def _parse_datetime(value: object) -> datetime:
    moment = DateTimeDefinition.parse_value(value)
    if moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise InputRefused(
                f"{value} is outside the representable range once converted to UTC "
                "(0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z).",
                "out_of_range",
            ) from None
    return moment


DateTime = dataclasses.replace(
    DateTimeDefinition,
    description="A moment as an RFC 3339 date-time with a UTC offset, e.g. "
    "2030-01-31T09:00:00+01:00 (inputs without an offset are refused); answers are in UTC.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
    parse_value=_parse_datetime,
)

SCALAR_OVERRIDES = {datetime: DateTime}
