"""Email backends of our own, where a provider offers more than Anymail passes on.

``EMAIL_PROVIDER=resend`` uses ``ResendBackend``: Anymail's Resend backend, plus Resend's
``Idempotency-Key`` header for a message that carries an ``idempotency_key`` attribute (the
reminder emails do: one key per reminder and moment). Resend sends a request whose key it has
seen in the last 24 hours only once and answers it as it answered the first, so a reminder sent
again after a worker died between Resend's acceptance and the SENT mark reaches the inbox once.
"""

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.message import AnymailRecipientStatus

# Resend's answer to a key it has accepted before with another body: the email went out then
# (the task was edited since, say), so this attempt is done, not failed.
KEY_ALREADY_USED = "invalid_idempotent_request"


class ResendBackend(AnymailResendBackend):
    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", None)
        if key:
            payload.headers["Idempotency-Key"] = key[:256]
        return payload

    def raise_for_status(self, response, payload, message):
        if _key_already_used(response):
            return
        super().raise_for_status(response, payload, message)

    def parse_recipient_status(self, response, payload, message):
        if _key_already_used(response):
            # Sent before under this key; its message id is in that first answer only.
            return {
                recipient.addr_spec: AnymailRecipientStatus(message_id=None, status="queued")
                for recipient in payload.recipients
            }
        return super().parse_recipient_status(response, payload, message)


def _key_already_used(response) -> bool:
    if response.status_code != 409:
        return False
    try:
        return response.json().get("name") == KEY_ALREADY_USED
    except ValueError:
        return False
