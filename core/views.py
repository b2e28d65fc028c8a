from base64 import b64decode
from functools import cache

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET


@require_GET
def csrf(request: HttpRequest) -> JsonResponse:
    """Hands a single-page app its CSRF token (also set as the csrftoken cookie).

    The app sends it back in the X-CSRFToken header of every POST to /graphql/.
    """
    return JsonResponse({"csrfToken": get_token(request)})


def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing else (readiness does: /health/ready/)."""
    return JsonResponse({"status": "ok"})


@cache
def anymail_tracking_view(esp: str):
    """Anymail's tracking webhook view for `esp`, or None.

    `anymail.urls` is imported here, not with this module: it imports every provider's webhook
    module, Resend's with svix (pydantic, httpx): about 25 MiB a process serving no tracking
    webhook does without. core/wsgi.py calls this at start-up when one is served."""
    from anymail import urls as anymail_urls

    for pattern in anymail_urls.urlpatterns:
        if pattern.name == f"{esp}_tracking_webhook":
            return pattern.callback
    return None


@csrf_exempt
def tracking_webhook(request: HttpRequest, esp: str) -> HttpResponse:
    """/anymail/<esp>/tracking/: the configured provider's Anymail tracking webhook, and no
    other. `anymail.urls` would mount every provider's webhooks (and their inbound ones),
    answering unsigned POSTs for providers that are not configured with a 500.

    A provider that signs its events (TRACKING_WEBHOOK_SIGNING_KEYS) is served only once its
    signing key is set: Anymail then refuses unsigned or wrongly signed requests. See the
    README's "Delivery tracking webhooks" for each provider's set-up.
    """
    if esp != settings.EMAIL_PROVIDER or esp not in settings.TRACKING_WEBHOOK_SIGNING_KEYS:
        raise Http404("No tracking webhook for this provider.")
    key = settings.TRACKING_WEBHOOK_SIGNING_KEYS[esp]
    if key and not settings.ANYMAIL.get(key):
        raise Http404("No tracking webhook for this provider.")
    if esp == "resend":
        _refuse_malformed_svix(request)
    view = anymail_tracking_view(esp)
    if view is None:
        raise Http404("No tracking webhook for this provider.")
    return view(request)


def _refuse_malformed_svix(request: HttpRequest) -> None:
    """Refuses (400) what svix's verification raises on instead of refusing, which would be a
    500 for anyone: a body that is not UTF-8, a `svix-signature` entry that is not
    `version,signature`, a v1 signature that is not base64. Anymail then checks the signature
    with svix, which also refuses a missing header and a timestamp more than 5 minutes off."""
    signatures = request.headers.get("svix-signature")
    try:
        request.body.decode()
        for entry in [] if signatures is None else signatures.split(" "):
            version, signature = entry.split(",")
            if version == "v1":
                b64decode(signature)
    except ValueError:  # UnicodeDecodeError, binascii.Error, unpacking
        raise AnymailWebhookValidationFailure(
            "Resend webhook called with a malformed body or signature"
        ) from None
