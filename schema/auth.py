from strawberry import Info

from schema.errors import AuthenticationError
from users.models import User


def current_user(info: Info) -> User:
    """The authenticated caller, or an UNAUTHENTICATED GraphQL error."""
    user = info.context.request.user
    if not user.is_authenticated:
        raise AuthenticationError()
    return user
