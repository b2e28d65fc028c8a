"""Account emails: address verification and password reset (docs/accounts.md).

Links point at the front end (FRONTEND_URL), which reads the query string and calls the
matching mutation:

- `{FRONTEND_URL}/verify-email?token=<token>` -> `emailVerify(token:)`
- `{FRONTEND_URL}/reset-password?uid=<uid>&token=<token>` -> `passwordResetConfirm(...)`

The tokens are minted here, when the email is composed, so none travels through the broker.
"""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from users import accounts
from users.models import User

SUBJECTS = {
    accounts.VERIFY_EMAIL: "Confirm your email address for Taskgraph",
    accounts.RESET_PASSWORD: "Reset your Taskgraph password",
}


# The tokens hold only characters a query string may carry as they are (base64url, "-" and
# ":"), so the links show them unencoded: copied by hand, they work as they are.


def verification_url(user: User) -> str:
    token = accounts.email_verification_token(user=user)
    return f"{settings.FRONTEND_URL}/verify-email?token={token}"


def password_reset_url(user: User) -> str:
    uid = accounts.password_reset_uid(user=user)
    token = accounts.password_reset_token(user=user)
    return f"{settings.FRONTEND_URL}/reset-password?uid={uid}&token={token}"


def account_email(*, kind: str, user: User) -> EmailMessage:
    if kind == accounts.VERIFY_EMAIL:
        url, template = verification_url(user), "jobs/verify_email.txt"
        hours = settings.EMAIL_VERIFICATION_MAX_AGE // 3600
    else:
        url, template = password_reset_url(user), "jobs/password_reset.txt"
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    return EmailMessage(
        subject=SUBJECTS[kind],
        body=render_to_string(template, {"url": url, "hours": hours}),
        to=[user.email],
        headers={"X-Taskgraph-Account-Email": kind},
    )


def deliver(*, kind: str, user_pk: int) -> bool:
    """Send it now, if it still makes sense (the account exists and, for a verification, its
    address is still unverified). True if an email left."""
    if kind not in SUBJECTS:
        return False
    user = User.objects.filter(pk=user_pk, is_active=True).first()
    if user is None or (kind == accounts.VERIFY_EMAIL and user.email_verified_at is not None):
        return False
    account_email(kind=kind, user=user).send()
    return True
