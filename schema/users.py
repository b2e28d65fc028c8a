"""Account queries and mutations. Session cookies carry the login; see README for CSRF/CORS."""

import strawberry
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.core.exceptions import ValidationError
from strawberry import Info

from schema.auth import client_address, current_user, require_session
from schema.errors import FieldError, field_errors, null_refused
from schema.types import UserType
from users import services, throttle
from users.models import User


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


def _value(given):
    return None if given is strawberry.UNSET else given


def _throttled(what: str, seconds: int) -> list[FieldError]:
    minutes = max(1, (seconds + 59) // 60)
    unit = "minute" if minutes == 1 else "minutes"
    return [
        FieldError(field=None, message=f"{what} Try again in {minutes} {unit}.", code="throttled")
    ]


@strawberry.type
class UserQuery:
    @strawberry.field(description="The logged-in user, or null for anonymous callers.")
    def me(self, info: Info) -> UserType | None:
        user = info.context.request.user
        return user if user.is_authenticated else None


@strawberry.type
class UserMutation:
    @strawberry.mutation(description="Create an account and log in with it.")
    def register(self, info: Info, input: RegisterInput) -> UserPayload:
        require_session(info, "register accounts")
        address = client_address(info.context.request)
        if locked_for := throttle.registration_locked_for(address=address):
            return UserPayload(
                errors=_throttled("Too many registrations from your network.", locked_for)
            )
        throttle.registration_attempted(address=address)
        try:
            user = services.user_register(
                email=input.email, password=input.password, timezone=input.timezone
            )
        except ValidationError as exc:
            return UserPayload(errors=field_errors(exc))
        login(info.context.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return UserPayload(user=user)

    @strawberry.mutation(description="Start a session (sets the session cookie).")
    def login(self, info: Info, email: str, password: str) -> UserPayload:
        require_session(info, "log in")
        request = info.context.request
        email = User.objects.normalize_email(email)
        address = client_address(request)
        if locked_for := throttle.login_locked_for(email=email, address=address):
            return UserPayload(errors=_throttled("Too many failed login attempts.", locked_for))
        user = authenticate(request, email=email, password=password)
        if user is None:
            throttle.login_failed(email=email, address=address)
            return UserPayload(
                errors=[
                    FieldError(
                        field=None, message="Invalid email or password.", code="invalid_credentials"
                    )
                ]
            )
        throttle.login_succeeded(email=email)
        login(request, user)
        return UserPayload(user=user)

    @strawberry.mutation(description="End the session. Always succeeds.")
    def logout(self, info: Info) -> LogoutPayload:
        require_session(info, "log out")
        logout(info.context.request)
        return LogoutPayload(ok=True)

    @strawberry.mutation
    def user_update(self, info: Info, input: UserUpdateInput) -> UserPayload:
        user = current_user(info)
        if errors := null_refused(input, ("timezone", "first_name", "last_name")):
            return UserPayload(errors=errors)
        try:
            user = services.user_update(
                user=user,
                timezone=_value(input.timezone),
                first_name=_value(input.first_name),
                last_name=_value(input.last_name),
            )
        except ValidationError as exc:
            return UserPayload(errors=field_errors(exc))
        return UserPayload(user=user)

    @strawberry.mutation(description="Change the password; the current session stays valid.")
    def password_change(self, info: Info, old_password: str, new_password: str) -> UserPayload:
        user = current_user(info)
        require_session(info, "change the password")
        # A stolen session must not become a way to guess the password: wrong current
        # passwords count as failed logins of the account.
        address = client_address(info.context.request)
        if locked_for := throttle.login_locked_for(email=user.email, address=address):
            return UserPayload(errors=_throttled("Too many failed login attempts.", locked_for))
        try:
            services.user_password_change(
                user=user, old_password=old_password, new_password=new_password
            )
        except ValidationError as exc:
            if "old_password" in getattr(exc, "error_dict", {}):
                throttle.login_failed(email=user.email, address=address)
            return UserPayload(errors=field_errors(exc))
        update_session_auth_hash(info.context.request, user)
        return UserPayload(user=user)
