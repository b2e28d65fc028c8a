"""Email backends of our own: where a provider offers more than Anymail passes on, and where
Django's SMTP backend spends more per email than the bytes it sends need.

``EMAIL_PROVIDER=smtp`` uses ``SMTPBackend``: Django's SMTP backend putting the same bytes on the
wire for a fraction of the interpreter's time. A worker sends thousands of reminders a second
in a burst, and per email Django's backend spent most of its time building a tree of MIME
objects for the generator to walk, and on three things that give the same result every time:
parsing the same From and To addresses (twice), folding short ASCII headers through
``email.header.Header``, and compiling a new regular expression for every random MIME
boundary. See ``SMTPBackend``.

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
from email.utils import formatdate, make_msgid
from functools import lru_cache
from io import BytesIO

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.message import AnymailRecipientStatus
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    SafeMIMEMultipart,
    SafeMIMEText,
    forbid_multi_line_headers,
    sanitize_address,
)
from django.core.mail.utils import DNS_NAME

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
    boundaries aside, which are random in both) for under a tenth of the CPU time it spends
    turning a reminder email into bytes (tests/jobs/test_smtp_backend.py compares the two on
    the wire, and the bytes of generated messages).

    With ``EMAIL_IDEMPOTENCY_HEADER`` set (e.g. ``Resend-Idempotency-Key`` for Resend's SMTP
    relay), a message with an ``idempotency_key`` attribute (the reminder emails) carries it in
    that header, for relays that send a key they have seen once only.

    Four differences from Django's, none visible to the receiver:
    - a message of text only (body and text/* alternatives, UTF-8, no line over 998 bytes:
      every reminder) is written straight to bytes (``_text_message_bytes``), without
      building the MIME tree ``message()`` returns;
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
        key = getattr(email_message, "idempotency_key", None)
        key_header = settings.EMAIL_IDEMPOTENCY_HEADER if key else ""
        data = _text_message_bytes(email_message, encoding, key_header, key)
        if data is None:
            message = email_message.message()
            if key_header:
                message[key_header] = key
            body = BytesIO()
            _Generator(body, mangle_from_=False, policy=_WIRE_POLICY).flatten(message)
            data = body.getvalue()
        try:
            self.connection.sendmail(sender, to, data)
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


# Django's own classes only: a subclass may build its MIME tree another way.
_TEXT_MESSAGE_CLASSES = (EmailMessage, EmailMultiAlternatives)
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
# Headers message() sets itself, from the message's fields or from the extra headers.
_SET_FROM_FIELDS = {"from", "to", "cc", "reply-to"}


def _text_message_bytes(message, encoding: str, key_header: str, key) -> bytes | None:
    """What ``message.message()`` (with ``key_header: key`` added last) flattens to, written
    directly, for messages made of text only: a body, text/* alternatives, no attachments,
    UTF-8, no line over 998 bytes. That is every reminder; for any other message this returns
    None and the caller builds the MIME tree the standard way.

    The standard way builds a tree of MIME objects and has the generator walk it, a quarter of
    a worker's time per reminder email; the bytes follow from a few rules, each kept here:
    headers through Django's ``forbid_multi_line_headers`` and compat32's folding, in
    ``message()``'s order; each part's MIME headers as Django makes them (``_part_headers``);
    bodies 7bit or 8bit with CRLF line ends; a random boundary absent from the parts.
    tests/jobs/test_smtp_backend.py requires the same bytes as Django's for generated
    messages.
    """
    if type(message) not in _TEXT_MESSAGE_CLASSES or message.attachments:
        return None
    if not isinstance(message.body, str):  # message() fails on it, or encodes bytes its way
        return None
    if encoding != "utf-8":  # Django's test is exact: "UTF-8" would mean base64 bodies
        return None
    alternatives = getattr(message, "alternatives", None)
    texts = [(message.content_subtype, message.body)] if message.body or not alternatives else []
    for content, mimetype in alternatives or ():
        if not mimetype.startswith("text/"):
            return None
        texts.append((mimetype[5:], content))
    parts = []
    for subtype, text in texts:
        part = _text_part(subtype, text)
        if part is None:
            return None
        parts.append(part)

    headers = []

    def put(name, value):
        name, value = forbid_multi_line_headers(name, value, encoding)
        headers.append(_WIRE_POLICY.fold_binary(name, value))

    extra = message.extra_headers
    put("Subject", message.subject)
    put("From", extra.get("From", message.from_email))
    for name, values in (("To", message.to), ("Cc", message.cc), ("Reply-To", message.reply_to)):
        if name in extra:
            put(name, extra[name])
        elif values:
            put(name, ", ".join(str(value) for value in values))
    names = {name.lower() for name in extra}
    if "date" not in names:
        put("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME))
    if "message-id" not in names:
        put("Message-ID", make_msgid(domain=DNS_NAME))
    for name, value in extra.items():
        if name.lower() not in _SET_FROM_FIELDS:
            put(name, value)
    if key_header:
        put(key_header, key)

    if not alternatives:
        ((part_headers, body),) = parts
        return b"".join([part_headers, *headers, b"\r\n", body])
    texts = [part_headers + b"\r\n" + body for part_headers, body in parts]
    boundary = _Generator._make_boundary(b"\r\n".join(texts)).encode()
    template, placeholder = _multipart_headers(message.alternative_subtype)
    delimiter = b"\r\n--" + boundary + b"\r\n"
    return b"".join(
        [
            template.replace(placeholder, boundary),
            *headers,
            b"\r\n--",
            boundary,
            b"\r\n",
            delimiter.join(texts),
            b"\r\n--",
            boundary,
            b"--\r\n",
        ]
    )


def _text_part(subtype: str, text) -> tuple[bytes, bytes] | None:
    """A text part's MIME headers and body; None where Django would quote-print the body (a
    line over 998 bytes) or the text is not a str."""
    if not isinstance(text, str):
        return None
    payload = text.encode(errors="surrogateescape")
    if len(payload) > RFC5322_EMAIL_LINE_LENGTH_LIMIT and any(
        len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT
        for line in text.splitlines()
    ):
        return None
    return _part_headers(subtype, not payload.isascii()), _LINE_BREAK.sub(b"\r\n", payload)


@lru_cache(maxsize=64)
def _part_headers(subtype: str, eight_bit: bool) -> bytes:
    """The MIME headers Django gives a UTF-8 text part (Content-Type, MIME-Version and a 7bit or
    8bit Content-Transfer-Encoding), taken from a part Django builds, folded for the wire."""
    return _folded_headers(SafeMIMEText("é" if eight_bit else "", subtype, "utf-8"))


@lru_cache(maxsize=8)
def _multipart_headers(subtype: str) -> tuple[bytes, bytes]:
    """The headers Django's multipart root starts with, folded, with a placeholder boundary of
    the generator's length and characters (folding depends on nothing else) to replace."""
    placeholder = "=" * 15 + "0" * 19 + "=="
    root = SafeMIMEMultipart(_subtype=subtype, encoding="utf-8")
    root.set_boundary(placeholder)
    return _folded_headers(root), placeholder.encode()


def _folded_headers(message) -> bytes:
    """A MIME object's headers as the generator writes them."""
    return b"".join(_WIRE_POLICY.fold_binary(name, value) for name, value in message.raw_items())
