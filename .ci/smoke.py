"""One real HTTP round trip against a running server: CSRF token, register, create, list."""

import http.cookiejar
import json
import sys
import time
import urllib.request

base = sys.argv[1].rstrip("/")
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

deadline = time.monotonic() + 180
while True:
    try:
        token = json.load(opener.open(f"{base}/csrf/", timeout=5))["csrfToken"]
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("server did not come up within 180 s")
        time.sleep(1)


def graphql(query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": base},
    )
    body = json.load(opener.open(request, timeout=30))
    assert "errors" not in body, body
    return body["data"]


email = f"smoke-{int(time.time())}@example.com"
registered = graphql(
    'mutation R($e: String!) { register(input: {email: $e, password: "smoke test passphrase 9"})'
    " { user { email } errors { field code } } }",
    {"e": email},
)
assert registered["register"] == {"user": {"email": email}, "errors": []}, registered
token = next(c.value for c in jar if c.name == "csrftoken")  # rotated at login
created = graphql(
    'mutation { taskCreate(input: {title: "Smoke", scheduledAt: "2030-01-01T09:00:00Z"})'
    " { task { id title } errors { code } } }"
)
assert created["taskCreate"]["errors"] == [], created
listed = graphql("{ tasks(first: 10) { totalCount edges { node { title scheduledAt } } } }")
assert listed["tasks"] == {
    "totalCount": 1,
    "edges": [{"node": {"title": "Smoke", "scheduledAt": "2030-01-01T09:00:00+00:00"}}],
}, listed
print(f"smoke: ok ({base})")
