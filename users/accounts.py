"""Accounts that own their address: email verification, email change, password reset, deletion.

Each raises django.core.exceptions.ValidationError with per-field messages and codes on bad
input and writes nothing in that case. Emails leave after the transaction commits, through one
seam (`_email_after_commit`) that hands the kind and the user's id to the mailer the jobs app
registers (`set_mailer`);
the job mints the link's token when it composes the email, so no token travels through the
broker.

- Verification: a signed, timestamped token (django.core.signing) naming the user and the
  address; it expires after EMAIL_VERIFICATION_MAX_AGE and is void once the address changes.
- Password reset: Django's PasswordResetTokenGenerator (void once the password changes or the
  user logs in; PASSWORD_RESET_TIMEOUT). Following the link also proves the address.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from users import throttle
from users.models import User
from users.validators import validate_email_address

logger = logging.getLogger(__name__)

VERIFY_SALT = "users.email-verification"
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"


Mailer = Callable[[str, int], object]
_mailer: Mailer | None = None


def set_mailer(mailer: Mailer | None) -> None:
    """Register the function that sends an account email (kind, user id) in the background.

    The jobs app registers it when Django starts, so users never imports jobs (imports run one
    way: jobs imports users). Without one nothing is sent, and the user can ask again.
    """
    global _mailer
    _mailer = mailer


def _email_after_commit(kind: str, user_pk: int) -> None:
    def send() -> None:
        if _mailer is None:
            logger.warning("No account mailer registered: the %s email was not sent.", kind)
            return
        _mailer(kind, user_pk)

    transaction.on_commit(send)


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


# Verification


def email_verification_token(*, user: User) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=VERIFY_SALT)


def email_verification_send(*, user: User) -> None:
    """Queue the verification email (registration, email change)."""
    _email_after_commit(VERIFY_EMAIL, user.pk)


def email_verify(*, token: str) -> User:
    """Mark the address in the token verified; verifying twice is harmless."""
    invalid = _error("token", "This verification link is not valid.", "invalid_token")
    try:
        claims = signing.loads(token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired:
        raise _error(
            "token", "This verification link has expired: ask for a new one.", "expired_token"
        ) from None
    except signing.BadSignature:
        raise invalid from None
    if not isinstance(claims, dict):
        raise invalid
    # The address must still be the one the link was sent to.
    user = User.objects.filter(
        pk=claims.get("user"), email=claims.get("email"), is_active=True
    ).first()
    if user is None:
        raise invalid
    if user.email_verified_at is None:
        User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
            email_verified_at=timezone.now()
        )
        user.refresh_from_db(fields=["email_verified_at"])
    return user


def email_verification_resend(*, user: User) -> None:
    if user.email_verified_at is not None:
        raise _error("email", "This address is already verified.", "already_verified")
    if locked_for := throttle.verification_attempt(user_pk=user.pk):
        raise ValidationError(
            throttle.message("Too many verification emails.", locked_for), code="throttled"
        )
    email_verification_send(user=user)


def _check_password(*, user: User, password: str, address: str) -> None:
    """The current password, counted like a login (a stolen session cannot guess it)."""
    if locked_for := throttle.login_attempt(email=user.email, address=address):
        raise ValidationError(
            throttle.message("Too many failed login attempts.", locked_for), code="throttled"
        )
    if not user.check_password(password):
        raise _error("password", "The password is wrong.", "wrong_password")
    throttle.login_succeeded(email=user.email, address=address)


def email_change(*, user: User, password: str, email: str, address: str) -> User:
    """A new address, unverified until its owner follows the link sent to it."""
    _check_password(user=user, password=password, address=address)
    email = User.objects.normalize_email(email)
    try:
        validate_email_address(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.error_list}) from None
    if email == user.email:
        raise _error("email", "This is already your address.", "unchanged")
    taken = _error("email", "An account with this email already exists.", "unique")
    if User.objects.filter(email=email).exists():
        raise taken
    user.email, user.email_verified_at = email, None
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified_at"])
            email_verification_send(user=user)
    except IntegrityError:
        raise taken from None
    return user


# Password reset


def password_reset_uid(*, user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def password_reset_token(*, user: User) -> str:
    return default_token_generator.make_token(user)


def password_reset_request(*, email: str, address: str) -> None:
    """Email a reset link if an active account has this address. The answer is the same
    whether or not it has: the API does not say which addresses hold accounts."""
    email = User.objects.normalize_email(email)
    if locked_for := throttle.password_reset_attempt(email=email, address=address):
        raise ValidationError(
            throttle.message("Too many password reset requests.", locked_for), code="throttled"
        )
    user = User.objects.filter(email=email, is_active=True).first()
    if user is not None:
        _email_after_commit(RESET_PASSWORD, user.pk)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    invalid = _error(
        "token", "This password reset link is not valid or has expired.", "invalid_token"
    )
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        raise invalid from None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise invalid
    try:
        password_validation.validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.error_list}) from None
    user.set_password(new_password)
    fields = ["password"]
    if user.email_verified_at is None:
        # The link reached the address's owner: that proves the address.
        user.email_verified_at = timezone.now()
        fields.append("email_verified_at")
    user.save(update_fields=fields)
    throttle.login_forgive(email=user.email)
    return user


# Deletion


def account_delete(*, user: User, password: str, address: str) -> None:
    """Delete the account with its tasks, reminders and API tokens (database cascades)."""
    _check_password(user=user, password=password, address=address)
    with transaction.atomic():
        user.delete()
