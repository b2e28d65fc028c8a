from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from strawberry.django.views import GraphQLView as StrawberryGraphQLView

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
        self.graphql_ide = "graphiql" if settings.GRAPHQL_GRAPHIQL else None
        # Issue 12: a POST with an Idempotency-Key runs at most once per key and caller.
        return idempotent(
            request, lambda: super(GraphQLView, self).dispatch(request, *args, **kwargs)
        )
