"""The HTTP request, checked before any GraphQL runs.

Strawberry reads the body with `json.loads` and then calls `.get` on whatever came out, so a body
that is valid JSON but not an operation (`"x"`, `1`, `null`, `[1, "x"]`, `[[{...}]]`), invalid
UTF-8 or JSON nested deeper than the interpreter's recursion limit ended as an HTTP 500. Here:

- the body (and a GET's `variables` / `extensions`) must be strict UTF-8 JSON (no NaN/Infinity);
- no JSON value nests deeper than MAX_NESTING (no variable of this schema needs more);
- the body holds at most MAX_MEMBERS list items and object members: graphql-core and
  strawberry coerce every item of a list variable before any resolver can refuse it, about
  0.1 ms an input object (a 1 MB `order` list of 50,000 took 4.5 s of CPU for one request);
- no string holds a lone UTF-16 surrogate (`"\\ud800"` in JSON): it cannot be encoded as UTF-8,
  so PostgreSQL, the email backend and the JSON encoder would all fail on it later;
- the body is one operation object or a non-empty list of them (a batch) and each member has
  the type GraphQL over HTTP gives it.

Each refusal is a `RequestRefused` that the view answers with HTTP 400 and a GraphQL-shaped body
`{"data": null, "errors": [{"message", "extensions": {"code"}}]}`.
"""

import json
import re
from typing import Any

from cross_web import HTTPException
from django.conf import settings
from strawberry.http import GraphQLRequestData

MAX_NESTING = 32
# The largest legitimate request: a batch of GRAPHQL_MAX_BATCH (10) operations, each with
# nodes(ids:) at its 100 IDs, holds about 1,050.
MAX_MEMBERS = 2_000
_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestRefused(HTTPException):
    """A request the API will not run; `code` goes to the error's extensions."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(status, message)
        self.code = code


def _refuse_constant(name: str) -> None:
    raise RequestRefused(f"{name} is not valid JSON.", "INVALID_JSON")


def load_json(raw: bytes | str) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, bounded nesting, no lone surrogates."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestRefused("The request is not valid UTF-8.", "INVALID_UTF8") from None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise RequestRefused("The request body is not valid JSON.", "INVALID_JSON") from None
    _check_values(value)
    return value


def _too_deep() -> RequestRefused:
    return RequestRefused(
        f"The JSON nests deeper than {MAX_NESTING} levels.", "JSON_NESTED_TOO_DEEPLY"
    )


def _check_values(value: Any) -> None:
    # An explicit stack: the walk itself must not recurse on hostile input.
    stack = [(value, 0)]
    members = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise RequestRefused(
                    "Text cannot contain lone UTF-16 surrogates (\\ud800-\\udfff): "
                    "they are not characters and cannot be stored.",
                    "LONE_SURROGATE",
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_NESTING:
            raise _too_deep()
        members += len(item)
        if members > MAX_MEMBERS:
            raise RequestRefused(
                f"The JSON holds more than {MAX_MEMBERS:,} list items and object members; no "
                "operation of this API needs that many.",
                "JSON_TOO_MANY_MEMBERS",
            )
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((member, depth + 1) for member in item.values())
        else:
            stack.extend((member, depth + 1) for member in item)


_SHAPE = "The request must be a GraphQL operation: a JSON object, or a non-empty list of them."
_TYPES = {
    "query": (str, "a string"),
    "operationName": (str, "a string"),
    "variables": (dict, "an object"),
    "extensions": (dict, "an object"),
}


def operation(data: Any) -> GraphQLRequestData:
    if not isinstance(data, dict):
        raise RequestRefused(_SHAPE, "BAD_REQUEST")
    for key, (kind, described) in _TYPES.items():
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise RequestRefused(f"`{key}` must be {described} or null.", "BAD_REQUEST")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


def operations(data: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
    """One operation, or a batch of them, from a decoded body."""
    if not isinstance(data, list):
        return operation(data)
    if not data:
        raise RequestRefused(_SHAPE, "BAD_REQUEST")
    if len(data) > settings.GRAPHQL_MAX_BATCH:
        raise RequestRefused(
            f"A batch can hold at most {settings.GRAPHQL_MAX_BATCH} operations.",
            "BATCH_TOO_LARGE",
        )
    return [operation(item) for item in data]


def from_query_string(params: dict[str, str]) -> GraphQLRequestData:
    """A GET request: `variables` and `extensions` are JSON in the query string."""
    data: dict[str, Any] = {key: params.get(key) for key in ("query", "operationName")}
    for key in ("variables", "extensions"):
        if params.get(key):
            data[key] = load_json(params[key])
    return operation(data)
