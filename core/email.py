"""Email backends of our own: where a provider offers more than Anymail passes on, and where
Django's SMTP backend spends more per email than the bytes it sends need.

``EMAIL_PROVIDER=smtp`` uses ``SMTPBackend``: Django's SMTP backend putting the same bytes on the
wire for a fraction of the interpreter's time. A worker sends thousands of reminders a second
in a burst, and per email Django's backend spent most of its time on three things that give the
same result every time: parsing the same From and To addresses (twice), folding short ASCII
headers through ``email.header.Header``, and compiling a new regular expression for every
random MIME boundary. See ``SMTPBackend``.

``EMAIL_PROVIDER=resend`` uses ``ResendBackend``: Anymail's Resend backend, plus Resend's
``Idempotency-Key`` header for a message that carries an ``idempotency_key`` attribute (the
reminder emails do: one key per reminder and moment). Resend sends a request whose key it has
seen in the last 24 hours only once and answers it as it answered the first, so a reminder sent
again after a worker died between Resend's acceptance and the SENT mark reaches the inbox once.
"""

import re
import secrets
import smtplib
from email._policybase import Compat32
from email.generator import BytesGenerator
from functools import lru_cache
from io import BytesIO

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.message import AnymailRecipientStatus
from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend
from django.core.mail.message import sanitize_address

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


class SMTPBackend(DjangoSMTPBackend):
    """Django's SMTP backend, sending what it sends (envelope and message bytes, MIME
    boundaries aside, which are random in both) for about a third of the CPU time it spends
    turning a reminder email into bytes (tests/jobs/test_smtp_backend.py compares the two on
    the wire).

    With ``EMAIL_IDEMPOTENCY_HEADER`` set (e.g. ``Resend-Idempotency-Key`` for Resend's SMTP
    relay), a message with an ``idempotency_key`` attribute (the reminder emails) carries it in
    that header, for relays that send a key they have seen once only.

    Three differences from Django's, none visible to the receiver:
    - envelope addresses are sanitized once per address and kept (``_envelope_address``);
    - headers that fit on one line and are plain printable ASCII are written as they are,
      which is what the standard library's folding makes of them, without its Header
      machinery (``_OneLineCompat32``);
    - a multipart boundary is checked against the parts' text with a substring test
      (``_Generator``), not with a regular expression compiled anew for every email.
    """

    def _send(self, email_message) -> bool:
        recipients = email_message.recipients()
        if not recipients:
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        sender = _envelope_address(email_message.from_email, encoding)
        to = [_envelope_address(address, encoding) for address in recipients]
        message = email_message.message()
        key = getattr(email_message, "idempotency_key", None)
        if key and settings.EMAIL_IDEMPOTENCY_HEADER:
            message[settings.EMAIL_IDEMPOTENCY_HEADER] = key
        body = BytesIO()
        _Generator(body, mangle_from_=False, policy=_WIRE_POLICY).flatten(message)
        try:
            self.connection.sendmail(sender, to, body.getvalue())
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True


@lru_cache(maxsize=4096)
def _envelope_address(address, encoding: str) -> str:
    # A pure function of its arguments (it raises ValueError for an invalid address, which is
    # never cached); reminders go to a few thousand owners at most in any burst.
    return sanitize_address(address, encoding)


# A value Compat32 would leave on one line untouched: printable ASCII words, single spaces.
_ONE_LINE = re.compile(r"[!-~]+(?: [!-~]+)*\Z")


class _OneLineCompat32(Compat32):
    """compat32 (the policy Django's messages are built with), writing a header that fits on
    one line and needs no encoding directly: for such values ``Header.encode`` returns them
    unchanged, at a tenth of a millisecond each."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and _ONE_LINE.match(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_WIRE_POLICY = _OneLineCompat32(linesep="\r\n")


class _Generator(BytesGenerator):
    """Chooses a multipart boundary as the standard generator does (random, absent from the
    parts), testing its absence with ``in``, stricter than the line-anchored pattern the
    standard one compiles for every boundary."""

    @classmethod
    def _make_boundary(cls, text=None):
        while True:
            boundary = f"==============={secrets.randbelow(10**19):019d}=="
            if text is None or boundary.encode() not in text:  # the parts' bytes
                return boundary
