"""A graphql-core executor with a short path for model columns.

Most of a list response is leaves read straight off model instances: a page of 50 tasks with
their pre-tasks resolves ~400 of them. graphql-core builds a resolve-info object, checks
arguments, awaitables and middleware, and dispatches through complete_value for each. For
fields whose strawberry definition is a plain column (ColumnField taking strawberry's basic-field
path) or a node id (GlobalIDField), none of that can change the outcome, so this executor reads
and serializes the value directly. Anything unusual (a missing value, null, an error) falls back
to the normal path, which then produces the exact standard result or error.
"""

from collections.abc import Callable
from typing import Any

from graphql import GraphQLNonNull, GraphQLObjectType, Undefined, is_leaf_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.types import ColumnField, GlobalIDField

Reader = Callable[[Any], Any]
_NO_FAST_PATH = (None, None)
_plans: dict[tuple[str, str], tuple[Reader | None, Any]] = {}


def _plan(strawberry_schema, parent_type: GraphQLObjectType, field_name: str):
    graphql_field = parent_type.fields.get(field_name)
    definition = strawberry_schema.get_type_by_name(parent_type.name)
    if graphql_field is None or definition is None or not hasattr(definition, "fields"):
        return _NO_FAST_PATH
    field_type = graphql_field.type
    leaf_type = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if graphql_field.args or not is_leaf_type(leaf_type):
        return _NO_FAST_PATH
    for field in definition.fields:
        if (
            field.graphql_name or strawberry_schema.config.name_converter.get_graphql_name(field)
        ) != field_name:
            continue
        if isinstance(field, GlobalIDField | ColumnField) and field.is_basic_field:
            return field.read, leaf_type
    return _NO_FAST_PATH


class ColumnFastPathExecutor(StrawberryGraphQLCoreExecutionContext):
    strawberry_schema = None  # set by schema.schema once the schema exists

    def execute_field(self, parent_type, source, field_details_list, path, position_context):
        if len(field_details_list) == 1 and not (
            self.middleware_manager and self.middleware_manager.middlewares
        ):
            field_name = field_details_list[0].node.name.value
            key = (parent_type.name, field_name)
            plan = _plans.get(key)
            if plan is None:
                plan = _plans[key] = _plan(self.strawberry_schema, parent_type, field_name)
            read, leaf_type = plan
            if read is not None:
                try:
                    value = read(source)
                except Exception:
                    value = None
                if value is not None:
                    serialized = leaf_type.serialize(value)
                    if serialized is not None and serialized is not Undefined:
                        return serialized
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
