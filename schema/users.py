"""Account queries and mutations. Session cookies carry the login; see README for CSRF/CORS."""

import strawberry
from django.contrib.auth import login, logout, update_session_auth_hash
from strawberry import Info

from schema.auth import IsAuthenticated, caller, client_address, session_only
from schema.errors import FieldError, payload_errors
from schema.inputs import given
from schema.user_types import UserType
from users import services


@strawberry.input
class RegisterInput:
    email: str
    password: str
    timezone: str = "UTC"


@strawberry.input(description="Only the fields given are changed.")
class UserUpdateInput:
    timezone: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET


@strawberry.type
class UserPayload:
    user: UserType | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class UserQuery:
    @strawberry.field(description="The logged-in user, or null for anonymous callers.")
    def me(self, info: Info) -> UserType | None:
        user = info.context.request.user
        return user if user.is_authenticated else None


@strawberry.type
class UserMutation:
    @strawberry.mutation(
        description="Create an account and log in with it.",
        permission_classes=[session_only("register accounts")],
    )
    @payload_errors
    def register(self, info: Info, input: RegisterInput) -> UserPayload:
        request = info.context.request
        user = services.user_register(
            email=input.email,
            password=input.password,
            timezone=input.timezone,
            address=client_address(request),
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return UserPayload(user=user)

    @strawberry.mutation(
        description="Start a session (sets the session cookie).",
        permission_classes=[session_only("log in")],
    )
    @payload_errors
    def login(self, info: Info, email: str, password: str) -> UserPayload:
        request = info.context.request
        user = services.user_login(
            email=email, password=password, address=client_address(request), request=request
        )
        login(request, user)
        return UserPayload(user=user)

    @strawberry.mutation(
        description="End the session. Always succeeds.",
        permission_classes=[session_only("log out")],
    )
    def logout(self, info: Info) -> LogoutPayload:
        logout(info.context.request)
        return LogoutPayload(ok=True)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def user_update(self, info: Info, input: UserUpdateInput) -> UserPayload:
        fields = ("timezone", "first_name", "last_name")
        changes = given(input, *fields, not_null=fields)
        return UserPayload(user=services.user_update(user=caller(info), **changes))

    @strawberry.mutation(
        description="Change the password; the current session stays valid.",
        permission_classes=[IsAuthenticated, session_only("change the password")],
    )
    @payload_errors
    def password_change(self, info: Info, old_password: str, new_password: str) -> UserPayload:
        request = info.context.request
        user = services.user_password_change(
            user=caller(info),
            old_password=old_password,
            new_password=new_password,
            address=client_address(request),
        )
        update_session_auth_hash(request, user)
        return UserPayload(user=user)
