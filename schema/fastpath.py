"""Speed-ups that lean on library internals, fenced in one module.

A page of 50 tasks with their pre-tasks resolves ~400 leaves read straight off model
instances. Three shortcuts make that cheaper (measured in docs/schema.md, "Fast path"):

- ``fast_node_id``: a node type's ``id`` as a basic field (``GlobalIDField``) instead of
  Relay's resolver, which scans the type's annotations and runs the full resolver chain on
  every call. It rewrites the type's field list after the class is built.
- ``ColumnField``: plain model columns take strawberry's basic-field path (against
  strawberry-django's own rule) and read the loaded value off the instance.
- ``FastPathExecutor``: overrides graphql-core's ``execute_field`` (in a subclass of a
  strawberry class that strawberry does not export) to read and serialize such leaves without
  building a resolve-info object. Anything unusual (a missing value, null, a value the leaf
  type refuses) falls back to the stock path, which produces the standard result or error.

All three depend on the exact library versions in ``TESTED_VERSIONS``. With another version
installed, or ``GRAPHQL_FAST_PATH`` off, this module hands out the stock pieces instead
(``StrawberryDjangoField``, an identity decorator, strawberry's executor) and warns once.
tests/schema/test_fastpath.py runs a corpus of the suite's documents both ways and requires
identical responses.
"""

import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.conf import settings
from graphql import GraphQLNonNull, GraphQLObjectType, Undefined, is_leaf_type
from strawberry import relay
from strawberry.annotation import StrawberryAnnotation
from strawberry.types.field import StrawberryField
from strawberry_django.fields.field import StrawberryDjangoField

TESTED_VERSIONS = {
    "strawberry-graphql": "0.341.2",
    "strawberry-graphql-django": "0.93.0",
    "graphql-core": "3.3.2",
}


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _enabled() -> bool:
    if not settings.GRAPHQL_FAST_PATH:
        return False
    installed = {package: _installed(package) for package in TESTED_VERSIONS}
    if installed != TESTED_VERSIONS:
        warnings.warn(
            f"GraphQL fast path off: it was tested with {TESTED_VERSIONS}, "
            f"installed are {installed}.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


ENABLED = _enabled()


class _ColumnField(StrawberryDjangoField):
    """A model column read straight off the instance.

    Plain columns need none of strawberry-django's per-call machinery (the optimizer has
    already put them in the SELECT), so they take strawberry's fast path for basic fields.
    Relations and fields with resolvers or extensions keep the full path.
    """

    @property
    def is_basic_field(self) -> bool:
        return not (self.is_relation or self.base_resolver or self.extensions)

    def read(self, source):
        """The column's loaded value; KeyError when deferred or computed."""
        return source.__dict__[self.django_name]

    def get_result(self, source, info, args, kwargs):
        if not self.is_relation and self.base_resolver is None:
            try:
                return self.read(source)
            except (AttributeError, KeyError):
                pass  # deferred or computed: let strawberry-django load it
        return super().get_result(source, info, args, kwargs)


class GlobalIDField(StrawberryField):
    """`id` as a basic field: the global ID built from the model's class name and primary key.

    GraphQL type names equal model class names here (tests/schema/test_sdl.py checks it).
    """

    def __init__(self) -> None:
        super().__init__(
            python_name="_id",
            graphql_name="id",
            type_annotation=StrawberryAnnotation(relay.GlobalID),
            description="The globally unique ID of this object.",
        )

    @property
    def is_basic_field(self) -> bool:
        return True

    def read(self, source) -> relay.GlobalID:
        # __class__, not type(): request.user is a SimpleLazyObject, whose type() is the
        # wrapper while __class__ is the model's.
        return relay.GlobalID(source.__class__.__name__, str(source.pk))

    def get_result(self, source, info, args, kwargs) -> relay.GlobalID:
        return self.read(source)


def _fast_node_id(cls):
    """Swap Relay's resolver-based `id` of a node type for GlobalIDField."""
    definition = cls.__strawberry_definition__
    definition.fields = [
        GlobalIDField() if field.python_name == "_id" else field for field in definition.fields
    ]
    return cls


def _stock_node_id(cls):
    return cls


Reader = Callable[[Any], Any]
_NO_FAST_PATH = (None, None)


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
        if isinstance(field, GlobalIDField | _ColumnField) and field.is_basic_field:
            return field.read, leaf_type
    return _NO_FAST_PATH


def _executor_class():
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    plans: dict[tuple[str, str], tuple[Reader | None, Any]] = {}

    class FastPathExecutor(StrawberryGraphQLCoreExecutionContext):
        strawberry_schema = None  # set by install() once the schema exists

        def execute_field(self, parent_type, source, field_details_list, path, position_context):
            if len(field_details_list) == 1 and not (
                self.middleware_manager and self.middleware_manager.middlewares
            ):
                field_name = field_details_list[0].node.name.value
                key = (parent_type.name, field_name)
                plan = plans.get(key)
                if plan is None:
                    plan = plans[key] = _plan(self.strawberry_schema, parent_type, field_name)
                read, leaf_type = plan
                if read is not None:
                    try:
                        value = read(source)
                        serialized = None if value is None else leaf_type.serialize(value)
                    except Exception:
                        # Whatever failed (a deferred column, a value the type refuses), the
                        # stock path below reports it exactly, at this field's path.
                        serialized = None
                    if serialized is not None and serialized is not Undefined:
                        return serialized
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )

    return FastPathExecutor


ColumnField = _ColumnField if ENABLED else StrawberryDjangoField
fast_node_id = _fast_node_id if ENABLED else _stock_node_id


def executor_class():
    """The execution context class for the schema: the fast one, or None (strawberry's)."""
    return _executor_class() if ENABLED else None


def install(schema) -> None:
    """Give the fast executor the schema it plans against (after the schema is built)."""
    executor = schema.execution_context_class
    if hasattr(executor, "strawberry_schema"):
        executor.strawberry_schema = schema
