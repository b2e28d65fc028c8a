"""The User type: a thin projection of the model."""

import strawberry_django
from django.db.models import QuerySet
from strawberry import Info, auto

from schema.fastpath import ColumnField, fast_node_id
from schema.ids import ModelNode
from users.models import User


@fast_node_id
@strawberry_django.type(User, name="User", field_cls=ColumnField)
class UserType(ModelNode):
    email: auto
    first_name: auto
    last_name: auto
    timezone: auto = strawberry_django.field(description="IANA time zone name, e.g. Europe/Paris.")

    @strawberry_django.field(
        only=["email_verified_at"],
        description="False until the link sent to the address is followed: until then no "
        "reminder is sent (see emailVerificationResend).",
    )
    def email_verified(self, root: User) -> bool:
        return root.email_verified_at is not None

    @classmethod
    def get_queryset(cls, queryset: QuerySet[User], info: Info, **kwargs) -> QuerySet[User]:
        user = info.context.request.user
        if not user.is_authenticated:
            return queryset.none()
        return queryset.filter(pk=user.pk)
