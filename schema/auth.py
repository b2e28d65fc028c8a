from django.conf import settings
from django.http import HttpRequest
from strawberry import Info

from schema.errors import AuthenticationError, ForbiddenError
from users.models import User


def current_user(info: Info) -> User:
    """The authenticated caller, or an UNAUTHENTICATED GraphQL error."""
    user = info.context.request.user
    if not user.is_authenticated:
        raise AuthenticationError()
    return user


def api_token(request: HttpRequest):
    """The ApiToken that authenticated this request, or None for sessions and anonymous calls."""
    return getattr(request, "api_token", None)


def require_session(info: Info, action: str) -> None:
    """Refuse an account-level operation to API tokens.

    A leaked token must not be able to outlive its revocation (by minting new tokens) or
    take over the account (password, login sessions).
    """
    if api_token(info.context.request) is not None:
        raise ForbiddenError(f"API tokens cannot {action}: log in with a browser session.")


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
