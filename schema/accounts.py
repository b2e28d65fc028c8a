"""Account mutations: verify the address, change it, reset a forgotten password, delete the
account. The emails they send and their links are described in docs/accounts.md."""

import strawberry
from django.contrib.auth import logout
from strawberry import Info

from schema.auth import IsAuthenticated, caller, client_address, session_only
from schema.errors import FieldError, payload_errors
from schema.users import UserPayload
from users import accounts


@strawberry.type
class OkPayload:
    ok: bool = False
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="Confirm an address with the token from the link emailed to it "
        "(FRONTEND_URL/verify-email?token=...). Works without a session."
    )
    @payload_errors
    def email_verify(self, info: Info, token: str) -> UserPayload:
        return UserPayload(user=accounts.email_verify(token=token))

    @strawberry.mutation(
        description="Send the verification link again (a few times an hour at most).",
        permission_classes=[IsAuthenticated, session_only("send verification emails")],
    )
    @payload_errors
    def email_verification_resend(self, info: Info) -> OkPayload:
        accounts.email_verification_resend(user=caller(info))
        return OkPayload(ok=True)

    @strawberry.mutation(
        description="Change the address (needs the password). The new address is unverified "
        "until the link sent to it is followed; reminders wait until then.",
        permission_classes=[IsAuthenticated, session_only("change the email address")],
    )
    @payload_errors
    def email_change(self, info: Info, email: str, password: str) -> UserPayload:
        user = accounts.email_change(
            user=caller(info),
            password=password,
            email=email,
            address=client_address(info.context.request),
        )
        return UserPayload(user=user)

    @strawberry.mutation(
        description="Email a password reset link (FRONTEND_URL/reset-password?uid=...&token=...) "
        "if an account has this address. The answer does not say whether one has.",
        permission_classes=[session_only("reset passwords")],
    )
    @payload_errors
    def password_reset_request(self, info: Info, email: str) -> OkPayload:
        accounts.password_reset_request(email=email, address=client_address(info.context.request))
        return OkPayload(ok=True)

    @strawberry.mutation(
        description="Set a new password with the uid and token from the reset link. Does not "
        "log in.",
        permission_classes=[session_only("reset passwords")],
    )
    @payload_errors
    def password_reset_confirm(
        self, info: Info, uid: str, token: str, new_password: str
    ) -> UserPayload:
        user = accounts.password_reset_confirm(uid=uid, token=token, new_password=new_password)
        return UserPayload(user=user)

    @strawberry.mutation(
        description="Delete your account (needs the password) with its tasks, reminders and "
        "API tokens, and end the session. Cannot be undone.",
        permission_classes=[IsAuthenticated, session_only("delete the account")],
    )
    @payload_errors
    def account_delete(self, info: Info, password: str) -> OkPayload:
        request = info.context.request
        accounts.account_delete(
            user=caller(info), password=password, address=client_address(request)
        )
        logout(request)
        return OkPayload(ok=True)
