"""A single-page app on another origin (tests/browser/spa/, served on its own port) follows the
README: /csrf/, register, taskCreate, tasks; once with the session cookie, once with a token."""

import json
import uuid

import pytest
from strawberry import relay

pytestmark = pytest.mark.browser


def run_app(page, spa_origin: str, server, mode: str) -> tuple[str, dict]:
    email = f"spa-{mode}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{spa_origin}/index.html?api={server.url}&mode={mode}&email={email}")
    page.wait_for_selector("#result[data-state]")
    assert page.get_attribute("#result", "data-state") == "done", page.inner_text("#result")
    return email, dict(json.loads(page.inner_text("#result")))


def assert_the_task_was_created_and_listed(steps: dict, email: str) -> None:
    created = steps["taskCreate"]
    assert created["status"] == 200
    task = created["body"]["data"]["taskCreate"]
    assert task["errors"] == []
    assert relay.GlobalID.from_id(task["task"]["id"]).type_name == "Task"
    assert steps["tasks"] == {
        "status": 200,
        "body": {
            "data": {
                "tasks": {
                    "totalCount": 1,
                    "edges": [
                        {
                            "node": {
                                "id": task["task"]["id"],
                                "title": "From the app",
                                "scheduledAt": "2030-01-31T08:00:00+00:00",
                            }
                        }
                    ],
                }
            }
        },
    }
    assert steps["me"] == {"status": 200, "body": {"data": {"me": {"email": email}}}}


def test_an_app_on_another_origin_works_with_the_session_cookie(server, spa_origin, page):
    email, steps = run_app(page.page, spa_origin, server, "cookie")

    assert steps["register"]["status"] == 200
    assert steps["register"]["body"]["data"]["register"]["errors"] == []
    assert_the_task_was_created_and_listed(steps, email)
    assert all(not line.startswith("error") for line in page.console), page.console


def test_an_app_on_another_origin_works_with_a_bearer_token(server, spa_origin, page):
    email, steps = run_app(page.page, spa_origin, server, "token")

    assert steps["apiTokenCreate"]["body"]["data"]["apiTokenCreate"]["errors"] == []
    assert steps["logout"]["body"] == {"data": {"logout": {"ok": True}}}
    assert_the_task_was_created_and_listed(steps, email)
    assert all(not line.startswith("error") for line in page.console), page.console
