"""Bearer-token authentication overhead: the same query, anonymous vs session vs API token.

Two queries: `{ __typename }` does the same work for every caller, so its differences are the
cost of authenticating; `{ me { email } }` adds what an authenticated caller then resolves.

Runs the full Django stack in-process (middleware, CSRF, GraphQL view) against a throwaway
test database (DATABASE_URL's, with the usual test_ prefix; SQLite in memory by default),
and writes bench/results/auth.json.

    python bench/auth.py [--requests 2000]
"""

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

QUERIES = {"typename": "{ __typename }", "me": "{ me { email } }"}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per kind of caller")
    args = parser.parse_args()

    # As in production: DEBUG off (no query log), start-up objects out of the collector's way.
    setup_test_environment(debug=False)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        from users import services
        from users.models import User

        user = User.objects.create_user("bench@example.com", "bench password 123")
        _, secret = services.api_token_create(user=user, name="bench", scopes=["READ"])

        anonymous = Client()
        session = Client(enforce_csrf_checks=True)
        session.force_login(user)
        csrf = session.get("/csrf/").json()["csrfToken"]
        bearer = Client(headers={"Authorization": f"Bearer {secret}"})
        callers = {
            "anonymous": (anonymous, {}),
            "session": (session, {"X-CSRFToken": csrf}),
            "bearer": (bearer, {}),
        }

        def once(client: Client, headers: dict, body: str) -> float:
            start = time.perf_counter()
            response = client.post(
                "/graphql/", body, content_type="application/json", headers=headers
            )
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.content
            return elapsed

        gc.collect()
        gc.freeze()
        per_query = {}
        for label, query in QUERIES.items():
            body = json.dumps({"query": query})
            samples: dict[str, list[float]] = {name: [] for name in callers}
            for client, headers in callers.values():  # warm caches and connections
                for _ in range(50):
                    once(client, headers, body)
            # Interleaved, so drift in machine load hits every kind alike.
            for _ in range(args.requests):
                for name, (client, headers) in callers.items():
                    samples[name].append(once(client, headers, body))
            ms = {
                name: {
                    "median_ms": round(statistics.median(values) * 1000, 3),
                    "p95_ms": round(percentile(values, 0.95) * 1000, 3),
                }
                for name, values in samples.items()
            }
            per_query[label] = {
                "query": query,
                "callers": ms,
                "bearer_overhead_vs_anonymous_ms": round(
                    ms["bearer"]["median_ms"] - ms["anonymous"]["median_ms"], 3
                ),
                "bearer_overhead_vs_session_ms": round(
                    ms["bearer"]["median_ms"] - ms["session"]["median_ms"], 3
                ),
            }

        def median_ms(call) -> float:
            timings = []
            for _ in range(args.requests):
                start = time.perf_counter()
                call()
                timings.append(time.perf_counter() - start)
            return round(statistics.median(timings) * 1000, 3)

        authenticate_ms = median_ms(lambda: services.api_token_authenticate(secret=secret))
        # Reference: the cheapest ORM read there is, to tell machine speed from our cost.
        user_get_ms = median_ms(lambda: User.objects.get(pk=user.pk))

        ms = {
            name: {
                "median_ms": round(statistics.median(values) * 1000, 3),
                "p95_ms": round(percentile(values, 0.95) * 1000, 3),
            }
            for name, values in samples.items()
        }
        result = {
            "requests_per_caller_and_query": args.requests,
            "database": connection.vendor,
            "queries": per_query,
            "api_token_authenticate_median_ms": authenticate_ms,
            "reference_user_get_by_pk_median_ms": user_get_ms,
        }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    out = ROOT / "bench" / "results" / "auth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
