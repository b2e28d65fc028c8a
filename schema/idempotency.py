"""The ``Idempotency-Key`` header on /graphql/ (webhooks/idempotency.py holds the rules).

Wraps the GraphQL view's dispatch once the caller is authenticated: only a POST with the header
is concerned. Errors are GraphQL-shaped JSON with a code, and a replay carries
``Idempotent-Replayed: true``.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from webhooks import idempotency

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def _error(exc: idempotency.IdempotencyError) -> JsonResponse:
    body = {"data": None, "errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
    headers = {"Retry-After": "1"} if exc.status == 409 else {}
    return JsonResponse(body, status=exc.status, headers=headers)


def idempotent(request: HttpRequest, run: Callable[[], HttpResponseBase]) -> HttpResponseBase:
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return run()
    try:
        idempotency.key_check(key)
        if not request.user.is_authenticated:
            raise idempotency.IdempotencyError(
                f"{HEADER} needs an authenticated caller (a session or an API token).",
                "IDEMPOTENCY_KEY_UNAUTHENTICATED",
                401,
            )
        user = request.user
        fingerprint = idempotency.fingerprint_of(request.method, request.path, request.body)
        stored = idempotency.idempotency_begin(user=user, key=key, fingerprint=fingerprint)
    except idempotency.IdempotencyError as exc:
        return _error(exc)
    if stored is not None:
        response = HttpResponse(
            stored.body, status=stored.status_code, content_type=stored.content_type
        )
        response[REPLAYED] = "true"
        return response
    try:
        response = run()
    except BaseException:
        idempotency.idempotency_abandon(user=user, key=key)
        raise
    if response.status_code >= 500 or response.streaming:
        idempotency.idempotency_abandon(user=user, key=key)
    else:
        idempotency.idempotency_finish(
            user=user,
            key=key,
            stored=idempotency.Stored(
                response.status_code, response.get("Content-Type", ""), response.content
            ),
        )
    return response
