"""``POST /hooks/<id>/``: verify, deduplicate by ``webhook-id``, run the hook's mutation
(schema/hooks.py says what a hook may do; docs/webhooks.md how to call it)."""

import hashlib
import json

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from strawberry.django.context import StrawberryDjangoContext
from strawberry.django.views import TemporalHttpResponse

from schema.hooks import HookCredential
from schema.idempotency import REPLAYED
from schema.schema import schema
from webhooks import hooks, idempotency
from webhooks.models import InboundHook


def _error(message: str, code: str, status: int) -> JsonResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JsonResponse(body, status=status)


@csrf_exempt
def inbound_hook_view(request: HttpRequest, hook_id) -> HttpResponse:
    if request.method != "POST":
        return _error("Send a POST.", "METHOD_NOT_ALLOWED", 405)
    hook = hooks.inbound_hook_get(public_id=hook_id)
    if hook is None or not hook.enabled or not hook.owner.is_active:
        return _error("No such hook, or it is disabled.", "HOOK_NOT_FOUND", 404)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.INBOUND_HOOK_MAX_BODY_BYTES:
        return _error(
            f"The body is larger than {settings.INBOUND_HOOK_MAX_BODY_BYTES} bytes.",
            "BODY_TOO_LARGE",
            413,
        )
    body = request.body
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        Webhook(hook.secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError) as exc:
        return _error(
            f"Signature check failed: {exc}. Sign with the hook's secret (Standard Webhooks).",
            "SIGNATURE_INVALID",
            401,
        )
    webhook_id = headers["webhook-id"]
    try:
        payload = json.loads(body)
    except ValueError:
        return _error("The body is not JSON.", "BAD_JSON", 400)
    key = f"hook:{hook.pk}:{hashlib.sha256(webhook_id.encode()).hexdigest()}"
    fingerprint = idempotency.fingerprint_of("POST", request.path, body)
    owner = hook.owner
    try:
        stored = idempotency.idempotency_begin(user=owner, key=key, fingerprint=fingerprint)
    except idempotency.IdempotencyError as exc:
        return _error(exc.message.replace("Idempotency-Key", "webhook-id"), exc.code, exc.status)
    if stored is not None:
        hooks.inbound_delivery_record(
            hook=hook,
            webhook_id=webhook_id,
            status_code=stored.status_code,
            response=stored.body,
            replayed=True,
        )
        response = HttpResponse(
            stored.body, status=stored.status_code, content_type=stored.content_type
        )
        response[REPLAYED] = "true"
        return response
    try:
        response = _run(request, hook, hooks.variables_from(hook, payload))
    except BaseException:
        idempotency.idempotency_abandon(user=owner, key=key)
        raise
    with transaction.atomic():  # one commit for both
        idempotency.idempotency_finish(
            user=owner,
            key=key,
            stored=idempotency.Stored(
                response.status_code, response["Content-Type"], response.content
            ),
        )
        hooks.inbound_delivery_record(
            hook=hook,
            webhook_id=webhook_id,
            status_code=response.status_code,
            response=response.content,
            replayed=False,
        )
    return response


def _run(request: HttpRequest, hook: InboundHook, variables: dict) -> JsonResponse:
    request.user = hook.owner
    request.api_token = HookCredential(hook)
    context = StrawberryDjangoContext(request=request, response=TemporalHttpResponse())
    result = schema.execute_sync(hook.document, variable_values=variables, context_value=context)
    answer: dict = {"data": result.data}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    return JsonResponse(answer, status=200 if result.data is not None else 400)
