"""Inbound hooks: create, rotate, enable or disable, delete; the variables a request's body
gives the stored mutation; the log of received requests."""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.cleaning import clean_fields
from core.unset import UNSET, Unset, given
from users.models import User
from webhooks.models import (
    DOCUMENT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    InboundDelivery,
    InboundHook,
)
from webhooks.services import check_owner_room, new_secret


@dataclass(frozen=True)
class CheckedDocument:
    """What the API layer found in a GraphQL document (the domain does not know GraphQL)."""

    # Empty when the document is one valid mutation of the schema.
    problems: list[str]
    # The variables its operation declares, in order, each mapped to whether a request must
    # give it (a non-null type without a default); None when that is unknown (it does not
    # parse into exactly one operation).
    variables: dict[str, bool] | None


# Checks a GraphQL document. The API layer passes it (the domain does not know the schema).
DocumentCheck = Callable[[str], CheckedDocument]

RESPONSE_KEPT_CHARS = 2000
PRUNE_EVERY = 20


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("Name is required.", code="blank")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            "Name must be at most %(limit)d characters.",
            code="max_length",
            params={"limit": NAME_MAX_LENGTH},
        )
    return name


def _clean_document(document: str, check: DocumentCheck) -> str:
    if len(document) > DOCUMENT_MAX_LENGTH:
        raise ValidationError(
            "The document must be at most %(limit)d characters.",
            code="max_length",
            params={"limit": DOCUMENT_MAX_LENGTH},
        )
    problems = check(document).problems
    if problems:
        raise ValidationError(
            "%(problems)s", code="invalid_document", params={"problems": " ".join(problems)}
        )
    return document


def _clean_variables(variables: dict | None) -> dict:
    variables = variables or {}
    if not isinstance(variables, dict) or not all(
        isinstance(name, str) and isinstance(pointer, str) and (pointer == "" or pointer[0] == "/")
        for name, pointer in variables.items()
    ):
        raise ValidationError(
            'Map each variable name to a JSON pointer, e.g. {"title": "/issue/title"}.',
            code="invalid",
        )
    return variables


def _variables_fit(variables: dict, declared: dict[str, bool] | None) -> None:
    """A map must name only variables the document declares, and every one it requires
    (``declared`` None: a stored document that no longer parses, say under a lower token
    limit; there is nothing to check the map against)."""
    if declared is None:
        return
    errors = []
    undeclared = [name for name in variables if name not in declared]
    if undeclared:
        errors.append(
            ValidationError(
                "The document declares no %(names)s: map only the variables it declares.",
                code="undeclared_variable",
                params={"names": _listed(undeclared)},
            )
        )
    missing = [name for name, required in declared.items() if required and name not in variables]
    if missing:
        errors.append(
            ValidationError(
                "The document requires %(names)s (non-null, no default): map each to a JSON"
                " pointer, or leave the map empty to use the body's top-level keys.",
                code="missing_variable",
                params={"names": _listed(missing)},
            )
        )
    if errors:
        raise ValidationError({"variables": errors})


def _listed(names: list[str]) -> str:
    return ", ".join(f"${name}" for name in names)


def _cleaned(
    values: dict, check: DocumentCheck, *, document: str = "", variables: dict | None = None
) -> dict:
    """Each given value checked, then the document and the variables map together: the ones
    given, or the stored ``document`` or ``variables`` an update leaves as they are."""
    check = functools.cache(check)  # the document's cleaner and the pair share one parse
    cleaners = {
        "name": _clean_name,
        "document": lambda value: _clean_document(value, check),
        "variables": _clean_variables,
    }
    cleaned = clean_fields(values, cleaners)
    if "document" in cleaned or "variables" in cleaned:
        variables = cleaned.get("variables", variables)
        if variables:
            _variables_fit(variables, check(cleaned.get("document", document)).variables)
    return cleaned


def inbound_hook_create(
    *, user: User, name: str, document: str, variables: dict | None, check: DocumentCheck
) -> InboundHook:
    """A new hook; its ``secret`` is shown to the caller this once."""
    cleaned = _cleaned({"name": name, "document": document, "variables": variables}, check)
    with transaction.atomic():
        check_owner_room(
            user=user,
            owned=InboundHook.objects.filter(owner=user),
            limit=settings.INBOUND_HOOK_MAX_PER_USER,
            noun="hooks",
        )
        return InboundHook.objects.create(owner=user, secret=new_secret(), **cleaned)


def _owned(user: User, pk, *, lock: bool = False) -> InboundHook:
    hooks = InboundHook.objects.select_for_update() if lock else InboundHook.objects
    hook = hooks.filter(owner=user, pk=pk).first() if pk is not None else None
    if hook is None:
        raise ValidationError({"id": ValidationError("Hook not found.", code="not_found")})
    return hook


def inbound_hook_update(
    *,
    user: User,
    pk,
    check: DocumentCheck,
    name: str | Unset = UNSET,
    document: str | Unset = UNSET,
    variables: dict | Unset | None = UNSET,
    enabled: bool | Unset = UNSET,
) -> InboundHook:
    with transaction.atomic():
        # Locked: two updates, one of the document and one of the map, must each check the
        # pair the other left, not the pair both read.
        hook = _owned(user, pk, lock=True)
        changes = _cleaned(
            given(name=name, document=document, variables=variables),
            check,
            document=hook.document,
            variables=hook.variables,
        )
        if enabled is not UNSET:
            changes["enabled"] = enabled
        for field, value in changes.items():
            setattr(hook, field, value)
        if changes:
            hook.save(update_fields=list(changes))
    return hook


def inbound_hook_secret_rotate(*, user: User, pk) -> InboundHook:
    hook = _owned(user, pk)
    hook.secret = new_secret()
    hook.save(update_fields=["secret"])
    return hook


def inbound_hook_delete(*, user: User, pk) -> None:
    _owned(user, pk).delete()


def inbound_hook_get(*, public_id) -> InboundHook | None:
    """The hook a request's URL names (any owner: the signature proves the sender)."""
    return InboundHook.objects.select_related("owner").filter(public_id=public_id).first()


def variables_from(hook: InboundHook, body: object) -> dict:
    """The mutation's variables: the body's top-level keys, or the hook's JSON pointers
    (RFC 6901) into it; a pointer that finds nothing leaves its variable out."""
    if not hook.variables:
        return dict(body) if isinstance(body, dict) else {}
    found = {}
    for name, pointer in hook.variables.items():
        value, ok = _resolve(body, pointer)
        if ok:
            found[name] = value
    return found


def _resolve(document: object, pointer: str) -> tuple[object, bool]:
    if pointer == "":
        return document, True
    current = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return None, False
    return current, True


def inbound_delivery_record(
    *, hook: InboundHook, webhook_id: str, status_code: int, response: bytes, replayed: bool
) -> None:
    """Log a received request; only the newest INBOUND_DELIVERIES_KEPT per hook are kept
    (pruned at every PRUNE_EVERY-th row, so a hook holds at most that many more)."""
    delivery = InboundDelivery.objects.create(
        hook=hook,
        webhook_id=webhook_id[:255],
        received_at=timezone.now(),
        status_code=status_code,
        replayed=replayed,
        response=response.decode(errors="replace")[:RESPONSE_KEPT_CHARS],
    )
    if delivery.pk % PRUNE_EVERY:
        return
    old = InboundDelivery.objects.filter(hook=hook).order_by("-received_at", "-pk")[
        settings.INBOUND_DELIVERIES_KEPT :
    ]
    InboundDelivery.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:1000])).delete()


def inbound_delivery_list(*, user: User, hook_pk, limit: int) -> list[InboundDelivery]:
    if hook_pk is None:
        return []
    return list(
        InboundDelivery.objects.filter(hook_id=hook_pk, hook__owner=user).order_by(
            "-received_at", "-pk"
        )[:limit]
    )


def inbound_hook_list(*, user: User):
    return InboundHook.objects.filter(owner=user).order_by("created_at", "pk")
