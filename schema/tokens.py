"""API token queries and mutations. Tokens are managed from a browser session only."""

from datetime import datetime

import strawberry
import strawberry_django
from strawberry import Info, auto, relay

from schema.auth import IsAuthenticated, caller, session_only
from schema.errors import FieldError, not_found_error, payload_errors
from schema.ids import decode_pk
from users import selectors, services
from users.models import ApiToken, ApiTokenScope

ApiTokenScopeEnum = strawberry.enum(ApiTokenScope, name="ApiTokenScope")


@strawberry_django.type(ApiToken, name="ApiToken")
class ApiTokenType(relay.Node):
    name: auto
    prefix: str = strawberry_django.field(
        description="The secret's first characters, to recognise it."
    )
    created_at: auto
    expires_at: auto
    revoked_at: auto
    last_used_at: datetime | None = strawberry_django.field(
        description="When the token last authenticated a request (to the minute)."
    )

    @strawberry_django.field(
        only=["scopes"], description="READ allows queries; WRITE also allows mutations."
    )
    def scopes(self, root: ApiToken) -> list[ApiTokenScopeEnum]:
        return [ApiTokenScope(scope) for scope in root.scopes]

    @classmethod
    def get_queryset(cls, queryset, info: Info, **kwargs):
        return queryset & selectors.api_token_visible(user=info.context.request.user)


@strawberry.input
class ApiTokenCreateInput:
    name: str
    scopes: list[ApiTokenScopeEnum]
    expires_at: datetime | None = strawberry.field(
        default=None, description="Null: the token never expires (revoke it when done)."
    )


@strawberry.type
class ApiTokenCreatePayload:
    api_token: ApiTokenType | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="Send it as `Authorization: Bearer <secret>`. Shown only this once.",
    )
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiTokenPayload:
    api_token: ApiTokenType | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiTokenQuery:
    @strawberry_django.field(
        description="Your API tokens, newest first (secrets never shown).",
        permission_classes=[IsAuthenticated],
    )
    def api_tokens(self, info: Info) -> list[ApiTokenType]:
        return selectors.api_token_list(user=caller(info))


@strawberry.type
class ApiTokenMutation:
    @strawberry.mutation(
        description="Create a token for a script; its secret is shown once.",
        permission_classes=[IsAuthenticated, session_only("create API tokens")],
    )
    @payload_errors
    def api_token_create(self, info: Info, input: ApiTokenCreateInput) -> ApiTokenCreatePayload:
        token, secret = services.api_token_create(
            user=caller(info),
            name=input.name,
            scopes=[scope.value for scope in input.scopes],
            expires_at=input.expires_at,
        )
        return ApiTokenCreatePayload(api_token=token, secret=secret)

    @strawberry.mutation(
        description="Revoke a token at once; revoking twice is harmless.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def api_token_revoke(self, info: Info, id: strawberry.ID) -> ApiTokenPayload:
        pk = decode_pk(id, "ApiToken")
        try:
            token = selectors.api_token_get(user=caller(info), pk=pk) if pk is not None else None
        except ApiToken.DoesNotExist:
            token = None
        if token is None:
            raise not_found_error("id", "API token not found.")
        return ApiTokenPayload(api_token=services.api_token_revoke(token=token))
