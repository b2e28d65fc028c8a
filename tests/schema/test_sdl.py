from pathlib import Path

from schema.schema import schema

SDL_PATH = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_sdl_matches_the_live_schema():
    committed = SDL_PATH.read_text()
    live = schema.as_str()
    assert committed.strip() == live.strip(), (
        "schema/schema.graphql is stale: run `make schema` and commit the result."
    )


def test_graphiql_is_served_to_browsers(client):
    response = client.get("/graphql/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()
