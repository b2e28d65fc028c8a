from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
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
