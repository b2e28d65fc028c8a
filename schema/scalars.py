"""Scalars as clients need them described (code generators read `@specifiedBy`)."""

import dataclasses
from datetime import datetime

from strawberry.schema.types.base_scalars import DateTimeDefinition

DateTime = dataclasses.replace(
    DateTimeDefinition,
    description="A moment as an RFC 3339 date-time with a UTC offset, e.g. "
    "2030-01-31T09:00:00+01:00 (inputs without an offset are refused); answers are in UTC.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
)

SCALAR_OVERRIDES = {datetime: DateTime}
