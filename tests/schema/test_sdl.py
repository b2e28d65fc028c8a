from pathlib import Path

from schema.schema import schema

SDL_PATH = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_sdl_matches_the_live_schema():
    committed = SDL_PATH.read_text()
    live = schema.as_str()
    assert committed.strip() == live.strip(), (
        "schema/schema.graphql is stale: run `make schema` and commit the result."
    )


def test_node_type_names_equal_model_class_names():
    """GlobalIDField builds IDs from the model class name: the GraphQL name must match."""
    checked = set()
    for type_name, graphql_type in schema.schema_converter.type_map.items():
        definition = getattr(graphql_type, "definition", None)
        origin = getattr(definition, "origin", None)
        django_definition = getattr(origin, "__strawberry_django_definition__", None)
        if django_definition is not None and not definition.is_input:
            assert django_definition.model.__name__ == type_name
            checked.add(type_name)
    assert {"Task", "User"} <= checked
