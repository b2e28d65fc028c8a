"""GraphiQL at /graphql/ as a person uses it, in headless Chromium against gunicorn (DEBUG=0)."""

import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from strawberry import relay

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

README = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text()
EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT_VALUE = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"


def readme_operations() -> list[str]:
    """The three operations the README tells a new user to run in GraphiQL."""
    block = re.search(r"```graphql\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def open_graphiql(page, url: str) -> None:
    page.goto(f"{url}/graphql/")
    page.wait_for_selector(EDITOR)


def run_in_editor(page, document: str) -> dict:
    """Type the document into a new tab's editor, press run, and read the result off the page."""
    page.click(".graphiql-tab-add")
    page.click(EDITOR)
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(document)
    with page.expect_response(
        lambda r: r.url.endswith("/graphql/") and r.request.method == "POST"
    ) as answer:
        page.click(".graphiql-execute-button")
    expected = json.dumps(answer.value.json(), separators=(",", ":"), ensure_ascii=False)
    page.wait_for_function(
        f"expected => {{ try {{ return JSON.stringify(JSON.parse({RESULT_VALUE})) === expected }}"
        " catch (e) { return false } }",
        arg=expected,
    )
    result = json.loads(page.evaluate(RESULT_VALUE))
    # Every answer carries its cost (issue 9); the tests compare what the operation returned.
    assert "requested" in result.pop("extensions")["cost"]
    return result


def type_of(global_id: str) -> str:
    return relay.GlobalID.from_id(global_id).type_name


def test_graphiql_renders_and_runs_a_query_with_every_other_site_cut_off(server, page):
    tab = page.page
    elsewhere = []

    def only_this_site(route):
        if route.request.url.startswith(f"{server.url}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    tab.route("**/*", only_this_site)
    started = time.monotonic()
    open_graphiql(tab, server.url)
    result = run_in_editor(tab, "{ me { email } }")
    answered = time.monotonic() - started
    paint = tab.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0].startTime / 1000"
    )

    assert result == {"data": {"me": None}}
    assert elsewhere == []
    assert all(url.startswith(f"{server.url}/") for url in page.requests), page.requests
    assert any("/static/graphiql/vendor/graphiql.min." in url for url in page.requests)
    assert [line for line in page.console if "error" in line.lower()] == []
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {"first_contentful_paint_s": round(paint, 3), "query_answered_s": round(answered, 3)}
    (ARTIFACTS / "graphiql-timings.json").write_text(json.dumps(figures))


def test_the_page_sets_the_csrf_cookie_and_a_strict_content_security_policy(server, page):
    first = page.page.goto(f"{server.url}/graphql/").headers["content-security-policy"]
    second = page.page.goto(f"{server.url}/graphql/").headers["content-security-policy"]

    nonce = re.fullmatch(
        r"default-src 'self'; style-src 'self' 'nonce-([\w-]{24})'; base-uri 'none'; "
        r"form-action 'none'; frame-ancestors 'none'; object-src 'none'",
        first,
    ).group(1)
    assert nonce not in second
    cookies = {c["name"] for c in page.page.context.cookies()}
    assert "csrftoken" in cookies


def test_every_panel_and_dialog_opens_within_the_policy(server, page):
    tab = page.page
    open_graphiql(tab, server.url)
    labels = tab.eval_on_selector_all(
        ".graphiql-sidebar button", "buttons => buttons.map(b => b.getAttribute('aria-label'))"
    )

    for label in labels:
        tab.click(f'.graphiql-sidebar button[aria-label="{label}"]')
        tab.wait_for_timeout(300)
        tab.keyboard.press("Escape")

    assert "Show GraphiQL Explorer" in labels and "Open settings dialog" in labels
    assert page.console == []


def test_the_readmes_three_operations_run_in_the_editor(server, page):
    tab = page.page
    email = f"readme-{uuid.uuid4().hex[:8]}@example.com"
    register, create, listing = readme_operations()
    open_graphiql(tab, server.url)

    registered = run_in_editor(tab, register.replace("me@example.com", email))
    created = run_in_editor(tab, create)
    listed = run_in_editor(tab, listing)

    payload = registered["data"]["register"]
    assert payload["errors"] == []
    assert type_of(payload["user"]["id"]) == "User"
    task = created["data"]["taskCreate"]
    assert task["errors"] == []
    assert task["task"]["title"] == "Write the report"
    assert type_of(task["task"]["id"]) == "Task"
    assert listed == {
        "data": {
            "tasks": {
                "totalCount": 1,
                "edges": [
                    {
                        "node": {
                            "id": task["task"]["id"],
                            "title": "Write the report",
                            "scheduledAt": "2030-01-31T08:00:00+00:00",
                            "preTasks": [],
                        }
                    }
                ],
            }
        }
    }


def test_logout_then_login_again_and_mutate_without_a_reload(server, page):
    tab = page.page
    email = f"again-{uuid.uuid4().hex[:8]}@example.com"
    password = "a long passphrase 42"
    open_graphiql(tab, server.url)

    run_in_editor(
        tab,
        f'mutation {{ register(input: {{email: "{email}", password: "{password}"}}) '
        "{ user { id } errors { code } } }",
    )
    logged_out = run_in_editor(tab, "mutation { logout { ok } }")
    anonymous = run_in_editor(tab, "{ me { email } }")
    logged_in = run_in_editor(
        tab,
        f'mutation {{ login(email: "{email}", password: "{password}") {{ user {{ email }} '
        "errors { code } } }",
    )
    created = run_in_editor(
        tab,
        'mutation { taskCreate(input: {title: "After login"}) { task { title } errors { code } } }',
    )
    me = run_in_editor(tab, "{ me { email } }")

    assert logged_out == {"data": {"logout": {"ok": True}}}
    assert anonymous == {"data": {"me": None}}
    assert logged_in == {"data": {"login": {"user": {"email": email}, "errors": []}}}
    assert created == {"data": {"taskCreate": {"task": {"title": "After login"}, "errors": []}}}
    assert me == {"data": {"me": {"email": email}}}


def test_static_files_are_served_with_long_cache_headers_for_hashed_names(server, page):
    html = page.page.goto(f"{server.url}/graphql/").text()
    script = re.search(r'src="(/static/graphiql/vendor/graphiql\.min\.[0-9a-f]{12}\.js)"', html)
    assert script, "collectstatic's hashed name is in the page"

    with urllib.request.urlopen(f"{server.url}{script.group(1)}") as response:
        cache = response.headers["Cache-Control"]
    with urllib.request.urlopen(f"{server.url}/static/admin/css/base.css") as response:
        admin_status = response.status

    assert cache == "max-age=315360000, public, immutable"
    assert admin_status == 200


def test_a_reminder_emails_link_opens_the_editor_with_the_tasks_query(server, page):
    """The link a reminder email carries without REMINDER_TASK_URL (jobs/links.py)."""
    from urllib.parse import quote

    from jobs.links import TASK_QUERY

    tab = page.page
    variables = json.dumps({"id": "VGFzazox"})
    tab.goto(
        f"{server.url}/graphql/?q={quote(TASK_QUERY, safe='')}&variables={quote(variables, safe='')}"
    )
    tab.wait_for_selector(EDITOR)

    query = tab.evaluate(f"document.querySelector('{EDITOR}').CodeMirror.getValue()")
    shown = tab.evaluate(
        "document.querySelector('.graphiql-editor-tool .CodeMirror').CodeMirror.getValue()"
    )
    assert (query, shown) == (TASK_QUERY, variables)
