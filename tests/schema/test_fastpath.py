"""The fast path (schema/fastpath.py) answers exactly as the stock path does."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from schema import fastpath

CORPUS = Path(__file__).with_name("fastpath_corpus.py")


def _run_corpus(tmp_path: Path, fast_path: bool) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL"}
    }
    database = tmp_path / f"fast_path_{int(fast_path)}.sqlite3"
    env.update(DATABASE_URL=f"sqlite:///{database}", GRAPHQL_FAST_PATH=str(int(fast_path)))
    done = subprocess.run(
        [sys.executable, str(CORPUS)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict, dict]:
    tmp_path = tmp_path_factory.mktemp("fastpath")
    return _run_corpus(tmp_path, fast_path=True), _run_corpus(tmp_path, fast_path=False)


def test_the_corpus_gets_identical_answers_from_the_fast_and_the_stock_path(runs):
    fast, stock = runs
    assert (fast["fast_path"], stock["fast_path"]) == (True, False)
    assert len(fast["answers"]) > 150
    for fast_answer, stock_answer in zip(fast["answers"], stock["answers"], strict=True):
        assert fast_answer == stock_answer


def test_an_invalid_enum_value_is_reported_at_the_fields_own_path(runs):
    fast, _ = runs
    document, body = fast["answers"][-3]
    assert document == "{ tasks { edges { node { id title status } } } }"
    assert body.pop("extensions")["cost"]["requested"] == 300
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Enum 'TaskStatus' cannot represent value: 'LOST'",
                "locations": [{"line": 1, "column": 35}],
                "path": ["tasks", "edges", 2, "node", "status"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ],
    }


def test_the_fast_path_switches_itself_off_on_untested_library_versions(monkeypatch, settings):
    settings.GRAPHQL_FAST_PATH = True
    monkeypatch.setitem(fastpath.TESTED_VERSIONS, "graphql-core", "0.0.1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fastpath._enabled() is False
    assert "GraphQL fast path off" in str(caught[0].message)


def test_the_fast_path_is_on_with_the_tested_versions(settings):
    settings.GRAPHQL_FAST_PATH = True
    assert fastpath._enabled() is True
    settings.GRAPHQL_FAST_PATH = False
    assert fastpath._enabled() is False
