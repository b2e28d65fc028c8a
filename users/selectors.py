"""Reads on accounts and API tokens. A user only ever sees their own tokens."""

from django.db.models import QuerySet
from django.utils import timezone

from users.models import ApiToken, User


def api_token_visible(*, user: User) -> QuerySet[ApiToken]:
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user_id=user.pk)


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first, revoked and expired ones included."""
    return api_token_visible(user=user).order_by("-created_at", "-id")


def api_token_get(*, user: User, pk: int) -> ApiToken:
    """The user's token with this primary key; ApiToken.DoesNotExist otherwise."""
    return api_token_visible(user=user).get(pk=pk)


def api_token_active(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens that still authenticate: not revoked, not expired."""
    return (
        api_token_visible(user=user)
        .filter(revoked_at__isnull=True)
        .exclude(expires_at__lte=timezone.now())
    )
