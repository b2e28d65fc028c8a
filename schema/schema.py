"""The root schema, merged from the per-domain query and mutation types."""

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from schema.tasks import TaskMutation, TaskQuery
from schema.users import UserMutation, UserQuery


@strawberry.type
class Query(TaskQuery, UserQuery):
    pass


@strawberry.type
class Mutation(TaskMutation, UserMutation):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(relay_max_results=100),
    extensions=[
        DjangoOptimizerExtension,
        # Repeated documents (every SPA sends the same few) skip parsing and validation;
        # the caches live at module level, shared by the per-request extension instances.
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ],
)
