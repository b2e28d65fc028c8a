import secrets

from cross_web import HTTPException
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.shortcuts import render
from django.urls import reverse
from strawberry.django.views import GraphQLView as StrawberryGraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult

from core.logs import bind_user
from schema import error_codes, request_body
from schema.idempotency import idempotent
from users import services
from users.errors import ApiTokenRejected


def _error(message: str, code: str, status: int, **headers: str) -> JsonResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JsonResponse(body, status=status, headers=headers)


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering a GraphQL client in JSON."""

    def _reject(self, request: HttpRequest, reason: str) -> JsonResponse:
        return _error(
            f"CSRF verification failed: {reason} Send the X-CSRFToken header (see /csrf/), "
            "or authenticate with an API token.",
            "CSRF_FAILED",
            403,
        )


_csrf_check = _CsrfCheck(lambda request: None)

# GraphiQL's page loads scripts, styles, fonts and images from this site only, runs no inline
# script and talks to no other origin. The one exception: the style elements GraphiQL's dialogs
# insert (a scroll lock), allowed by a nonce fresh for each response.
GRAPHIQL_CSP = (
    "default-src 'self'; style-src 'self' 'nonce-{nonce}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; object-src 'none'"
)

# GraphiQL's default tabs: the README's first steps, then a call with an API token.
GRAPHIQL_TABS = [
    {
        "query": """mutation Register {
  register(
    input: {email: "me@example.com", password: "a long passphrase 42", timezone: "Europe/Paris"}
  ) {
    user { id }
    errors { field message code }
  }
}""",
    },
    {
        "query": """mutation CreateTask {
  taskCreate(input: {title: "Write the report", scheduledAt: "2030-01-31T09:00:00+01:00"}) {
    task { id title }
    errors { field message code }
  }
}""",
    },
    {
        "query": """query Tasks {
  tasks(first: 20, order: [{field: SCHEDULED_AT}]) {
    totalCount
    edges { node { id title scheduledAt preTasks { title } } }
  }
}""",
    },
    {
        "query": """# Scripts authenticate with an API token instead of the session cookie.
# Create one while logged in:
#   mutation {
#     apiTokenCreate(input: {name: "script", scopes: [READ]}) { secret errors { message } }
#   }
# then put its secret in the Headers editor below (replacing the placeholder) and run this.
query WithApiToken {
  me { email }
}""",
        "headers": '{"Authorization": "Bearer <the secret from apiTokenCreate>"}',
    },
]


class GraphQLView(StrawberryGraphQLView):
    """/graphql/: GraphiQL for browsers, JSON for everyone else.

    Two ways in: the session cookie (browsers; CSRF-checked like any Django POST) or
    `Authorization: Bearer <API token>` (scripts; no session and no CSRF: a browser never
    attaches that header on its own, so a forged cross-site request cannot carry it).
    """

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        # The middleware stands aside; dispatch runs the same check for cookie requests.
        view.csrf_exempt = True
        return view

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            try:
                token = services.api_token_authenticate(secret=credentials.strip())
            except ApiTokenRejected as exc:
                return _error(
                    exc.message,
                    "UNAUTHENTICATED",
                    401,
                    **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            request.user = token.user
            request.api_token = token
        else:
            rejection = _csrf_check.process_view(request, None, (), {})
            if rejection is not None:
                return rejection
        # Every log line of the operation names its user (a session's costs the query the
        # resolvers would make anyway).
        bind_user(request.user)
        self.graphql_ide = "graphiql" if settings.GRAPHQL_GRAPHIQL else None

        def execute() -> HttpResponseBase:
            try:
                return self.run(request=request)
            except HTTPException as exc:
                # Strawberry answers these in plain text; clients parse GraphQL-shaped JSON.
                code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
                return _error(exc.reason, code, exc.status_code)

        # Issue 12: a POST with an Idempotency-Key runs at most once per key and caller.
        return idempotent(request, execute)

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        """GraphiQL from the project's own static files (schema/static/graphiql/).

        The page sets the CSRF cookie, which its fetcher reads before every request. A link may
        fill the editor in: ``?q=<operation>&variables=<JSON>`` (reminder emails link to their
        task this way, jobs/links.py); ``query`` itself would run the operation instead.
        """
        get_token(request)
        nonce = secrets.token_urlsafe(18)
        config = {
            "endpoint": reverse("graphql"),
            "csrfCookieName": settings.CSRF_COOKIE_NAME,
            "defaultTabs": GRAPHIQL_TABS,
            "styleNonce": nonce,
            "query": request.GET.get("q"),
            "variables": request.GET.get("variables"),
        }
        response = render(request, "graphiql/index.html", {"config": config})
        response["Content-Security-Policy"] = GRAPHIQL_CSP.format(nonce=nonce)
        return response

    def parse_http_body(self, request) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The operation(s) of the request, checked before anything runs (request_body)."""
        if request.method == "GET":
            return request_body.from_query_string(dict(request.query_params))
        content_type, _ = parse_content_type(request.content_type or "")
        if content_type != "application/json":
            raise request_body.RequestRefused(
                "Send the operation as JSON (Content-Type: application/json).",
                "UNSUPPORTED_MEDIA_TYPE",
                415,
            )
        # The Django request's bytes: the adapter's `body` decodes them and would raise on
        # invalid UTF-8.
        return request_body.operations(request_body.load_json(request.request.body))

    def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            error_codes.finish(result.errors, suggestions=settings.GRAPHQL_INTROSPECTION)
        return process_result(result)


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
