"""Writes on accounts. Each raises django.core.exceptions.ValidationError with per-field
messages and codes on bad input, and writes nothing in that case."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from users.models import User
from users.validators import validate_timezone


def user_register(*, email: str, password: str, timezone: str = "UTC") -> User:
    email = User.objects.normalize_email(email)
    errors: dict[str, list[ValidationError]] = {}
    try:
        validate_email(email)
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
    except IntegrityError:
        # Two registrations racing for one address: the constraint decides.
        raise ValidationError(
            {"email": ValidationError("An account with this email already exists.", code="unique")}
        ) from None
    return user


def user_update(
    *,
    user: User,
    timezone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    changes = {
        name: value
        for name, value in (
            ("timezone", timezone),
            ("first_name", first_name.strip() if first_name is not None else None),
            ("last_name", last_name.strip() if last_name is not None else None),
        )
        if value is not None
    }
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


def user_password_change(*, user: User, old_password: str, new_password: str) -> User:
    if not user.check_password(old_password):
        raise ValidationError(
            {
                "old_password": ValidationError(
                    "The current password is wrong.", code="wrong_password"
                )
            }
        )
    try:
        password_validation.validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.error_list}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return user
