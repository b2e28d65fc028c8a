"""Who may call a field: strawberry permission classes, and the caller's address.

Fields declare their checks with ``permission_classes=[...]`` (strawberry adds them as a field
extension without schema directives, so the SDL does not change); the checks run in the order
listed, before the resolver, after the arguments were parsed:

    @strawberry.mutation(permission_classes=[IsAuthenticated, session_only("log out")])

Resolvers then read the caller from ``info.context.request.user`` (see ``caller``).
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from strawberry import Info
from strawberry.permission import BasePermission

from schema.errors import AuthenticationError
from users.models import User


class IsAuthenticated(BasePermission):
    """The caller has logged in (session) or sent a live API token; else UNAUTHENTICATED."""

    message = AuthenticationError.default_message
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.request.user.is_authenticated


class SessionOnly(BasePermission):
    """Refuse an account-level operation to API tokens (FORBIDDEN).

    A leaked token must not be able to outlive its revocation (by minting new tokens) or
    take over the account (password, login sessions). Use ``session_only(action)``, which
    names the refused action in the message.
    """

    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return api_token(info.context.request) is None


def session_only(action: str) -> type[SessionOnly]:
    """A SessionOnly check whose message reads "API tokens cannot <action>: ..."."""
    message = f"API tokens cannot {action}: log in with a browser session."
    return type(f"SessionOnly_{action.replace(' ', '_')}", (SessionOnly,), {"message": message})


def caller(info: Info) -> User:
    """The authenticated caller of a field guarded by IsAuthenticated."""
    return info.context.request.user


def api_token(request: HttpRequest):
    """The ApiToken that authenticated this request, or None for sessions and anonymous calls."""
    return getattr(request, "api_token", None)


def client_address(request: HttpRequest) -> str:
    """The caller's IP address, trusting X-Forwarded-For only as far as our own proxies."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")
