"""Writes on accounts. Each raises django.core.exceptions.ValidationError with per-field
messages and codes on bad input, and writes nothing in that case."""

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.unset import UNSET, Unset, given
from users import accounts, selectors, throttle
from users.errors import ApiTokenRejected
from users.models import ApiToken, ApiTokenScope, User
from users.validators import validate_email_address, validate_timezone

API_TOKEN_PREFIX = "tg_"
API_TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length
MAX_ACTIVE_API_TOKENS = 50
# lastUsedAt is a hint for humans ("used 3 minutes ago"), not an audit log: writing it on
# every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _throttled(what: str, seconds: int) -> ValidationError:
    return ValidationError(throttle.message(what, seconds), code="throttled")


def user_register(
    *, email: str, password: str, timezone: str = "UTC", address: str | None = None
) -> User:
    """A new account, its address unverified: a verification link is emailed after the commit
    (users.accounts). With ``address`` (the client's), registrations from it are throttled:
    every attempt counts, and a locked address is refused with code ``throttled``."""
    if address is not None and (locked_for := throttle.registration_attempt(address=address)):
        raise _throttled("Too many registrations from your network.", locked_for)
    email = User.objects.normalize_email(email)
    errors: dict[str, list[ValidationError]] = {}
    try:
        validate_email_address(email)
    except ValidationError as exc:
        errors["email"] = exc.error_list
    else:
        if User.objects.filter(email=email).exists():
            errors["email"] = [
                ValidationError("An account with this email already exists.", code="unique")
            ]
    try:
        validate_timezone(timezone)
    except ValidationError as exc:
        errors["timezone"] = exc.error_list
    user = User(email=email, timezone=timezone)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = exc.error_list
    if errors:
        raise ValidationError(errors)

    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            accounts.email_verification_send(user=user)
    except IntegrityError:
        # Two registrations racing for one address: the constraint decides.
        raise ValidationError(
            {"email": ValidationError("An account with this email already exists.", code="unique")}
        ) from None
    return user


def user_login(*, email: str, password: str, address: str, request=None) -> User:
    """The user with these credentials, or ValidationError (``throttled``,
    ``invalid_credentials``). Logging in (the session) is the caller's part.

    Attempts count per account and per client address, BEFORE the password is checked (an
    atomic increment in the shared cache), so parallel guesses cannot outrun the count: at most
    THROTTLE_LOGIN_ACCOUNT_FAILURES password checks per window. While either key is locked even
    the right password is refused. A right password forgives the account's failures.
    """
    email = User.objects.normalize_email(email)
    if locked_for := throttle.login_attempt(email=email, address=address):
        raise _throttled("Too many failed login attempts.", locked_for)
    user = authenticate(request, email=email, password=password)
    if user is None:
        raise ValidationError("Invalid email or password.", code="invalid_credentials")
    throttle.login_succeeded(email=email, address=address)
    return user


def user_update(
    *,
    user: User,
    timezone: str | Unset = UNSET,
    first_name: str | Unset = UNSET,
    last_name: str | Unset = UNSET,
) -> User:
    """Change the given fields (names, stripped; an IANA time zone)."""
    changes = given(
        timezone=timezone,
        first_name=first_name.strip() if first_name is not UNSET else UNSET,
        last_name=last_name.strip() if last_name is not UNSET else UNSET,
    )
    errors: dict[str, list[ValidationError]] = {}
    for name, value in changes.items():
        try:
            User._meta.get_field(name).clean(value, user)
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    for name, value in changes.items():
        setattr(user, name, value)
    if changes:
        user.save(update_fields=list(changes))
    return user


def user_password_change(
    *, user: User, old_password: str, new_password: str, address: str | None = None
) -> User:
    """Set a new password. With ``address``, a wrong current password counts as a failed
    login of the account (a stolen session must not become a way to guess the password),
    and a locked account or address is refused with code ``throttled``."""
    if address is not None and (
        locked_for := throttle.login_attempt(email=user.email, address=address)
    ):
        raise _throttled("Too many failed login attempts.", locked_for)
    if not user.check_password(old_password):
        raise ValidationError(
            {
                "old_password": ValidationError(
                    "The current password is wrong.", code="wrong_password"
                )
            }
        )
    if address is not None:
        throttle.login_succeeded(email=user.email, address=address)
    try:
        password_validation.validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.error_list}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return user


def user_lock(*, user_id: int) -> None:
    """Hold the user's row until the transaction ends, so that writes checking a rule over
    everything the user owns (a maximum, an acyclic graph) run one at a time per user.
    PostgreSQL locks the row; SQLite ignores FOR UPDATE, but its IMMEDIATE transactions
    already write one at a time."""
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))


def api_token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret. The secret is not stored and cannot be shown again."""
    name = name.strip()
    scopes = set(scopes)
    errors: dict[str, list[ValidationError]] = {}
    if not name:
        errors["name"] = [ValidationError("Give the token a name.", code="blank")]
    elif len(name) > API_TOKEN_NAME_MAX_LENGTH:
        errors["name"] = [
            ValidationError(
                "The name can have at most %(limit)d characters.",
                code="max_length",
                params={"limit": API_TOKEN_NAME_MAX_LENGTH},
            )
        ]
    if not scopes:
        errors["scopes"] = [ValidationError("Choose at least one scope.", code="required")]
    elif not scopes <= set(ApiTokenScope.values):
        errors["scopes"] = [ValidationError("Unknown scope.", code="invalid_choice")]
    if expires_at is not None and timezone.is_naive(expires_at):
        errors["expires_at"] = [
            ValidationError(
                "The expiry needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.",
                code="naive_datetime",
            )
        ]
    elif expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [
            ValidationError("The expiry must be in the future.", code="in_the_past")
        ]
    if selectors.api_token_active(user=user).count() >= MAX_ACTIVE_API_TOKENS:
        errors["__all__"] = [
            ValidationError(
                "You have %(limit)d active API tokens: revoke one first.",
                code="too_many_tokens",
                params={"limit": MAX_ACTIVE_API_TOKENS},
            )
        ]
    if errors:
        raise ValidationError(errors)

    # WRITE implies READ: a script that changes tasks must see what it changed.
    granted = [ApiTokenScope.READ.value]
    if ApiTokenScope.WRITE in scopes:
        granted.append(ApiTokenScope.WRITE.value)
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[: len(API_TOKEN_PREFIX) + 6],
        secret_hash=api_token_digest(secret),
        scopes=granted,
        expires_at=expires_at,
    )
    return token, secret


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke the token; revoking it again keeps the first revocation time."""
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(*, secret: str) -> ApiToken:
    """The live token with this secret, its user loaded, or ApiTokenRejected.

    This runs on every bearer request, so it is one indexed SELECT written in SQL (the ORM's
    query compilation alone would cost more than the query), plus an UPDATE of last_used_at
    at most once a minute per token. The token comes back with what authorization needs:
    pk, name, scopes and user.
    """
    if not secret.startswith(API_TOKEN_PREFIX):
        raise ApiTokenRejected("Invalid API token.")
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    rows = list(
        User.objects.raw(
            _token_lookup_sql(),
            [adapt(now), adapt(now - LAST_USED_RESOLUTION), api_token_digest(secret)],
        )
    )
    if not rows:
        raise ApiTokenRejected("Invalid API token.")
    user = rows[0]
    if user.token_revoked:
        raise ApiTokenRejected("This API token has been revoked.")
    if user.token_expired:
        raise ApiTokenRejected("This API token has expired.")
    if not user.is_active:
        raise ApiTokenRejected("Invalid API token.")
    scopes = user.token_scopes
    token = ApiToken(
        pk=user.token_id,
        user=user,
        name=user.token_name,
        scopes=json.loads(scopes) if isinstance(scopes, str) else scopes,
    )
    if user.token_stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@cache
def _token_lookup_sql() -> str:
    token, user = ApiToken._meta, User._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return "t." + quote(token.get_field(name).column)

    return (
        f"SELECT u.*, {column('id')} AS token_id, {column('name')} AS token_name, "
        f"{column('scopes')} AS token_scopes, "
        f"({column('revoked_at')} IS NOT NULL) AS token_revoked, "
        f"({column('expires_at')} IS NOT NULL AND {column('expires_at')} <= %s) AS token_expired, "
        f"({column('last_used_at')} IS NULL OR {column('last_used_at')} <= %s) AS token_stale "
        f"FROM {quote(token.db_table)} t JOIN {quote(user.db_table)} u "
        f"ON u.{quote(user.pk.column)} = {column('user')} "
        f"WHERE {column('secret_hash')} = %s"
    )
