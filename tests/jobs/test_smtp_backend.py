"""core.email.SMTPBackend puts on the wire what Django's SMTP backend puts there.

Both send the same messages to the loopback SMTP server of the tests; the envelopes and the
bytes received must be equal once the random MIME boundaries are named by their order.
"""

import re
from email._policybase import compat32

import pytest
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail import message as django_message
from hypothesis import example, given
from hypothesis import strategies as st

from core import email as core_email
from core.email import _WIRE_POLICY

BOUNDARY = re.compile(rb"={15}\d{19}==")
DATE = "Wed, 25 Nov 2026 10:00:00 -0000"


def _headers(n: int) -> dict[str, str]:
    # Fixed Date and Message-ID: Django would otherwise make them at send time.
    return {
        "X-Taskgraph-Reminder": str(n),
        "Date": DATE,
        "Message-ID": f"<m{n}@taskgraph.localhost>",
    }


def _messages() -> list[EmailMessage]:
    html = EmailMultiAlternatives(
        subject="Reminder: Task 5 (Thursday 26 November 2026, 09:00 (Europe/Paris))",
        body="Reminder: Task 5\n\nOpen the task: https://app.example.com/tasks/VGFzazo1\n",
        from_email="Taskgraph <reminders@taskgraph.localhost>",
        to=["owner@example.com"],
        headers=_headers(1),
    )
    html.attach_alternative("<p>Task 5</p>\n", "text/html")
    accents = EmailMultiAlternatives(
        subject="Réunion ✓ demain",
        body="Zoë a écrit : ☕\n",
        from_email="Zoë Équipe <zoe@example.com>",
        to=["Ünïcode Owner <owner@exämple.com>"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
        headers=_headers(2),
    )
    accents.attach_alternative("<p>Zoë ☕</p>", "text/html")
    long_subject = EmailMessage(
        subject=" ".join(["A subject far longer than one header line can hold"] * 3),
        body="x" * 1200 + "\n",  # a line over 998 characters: quoted-printable
        from_email="reminders@taskgraph.localhost",
        to=["owner@example.com", "second@example.com"],
        headers={**_headers(3), "X-Odd": "two  spaces\tand a tab ", "X-Empty": ""},
    )
    attachment = EmailMessage(
        subject="With an attachment",
        body="See attached.\n",
        from_email="reminders@taskgraph.localhost",
        to=["owner@example.com"],
        headers=_headers(4),
    )
    attachment.attach("notes.txt", "first line\nsecond line\n", "text/plain")
    attachment.attach("data.bin", bytes(range(256)), "application/octet-stream")
    return [html, accents, long_subject, attachment]


def _named_boundaries(content: bytes) -> bytes:
    names: dict[bytes, bytes] = {}
    return BOUNDARY.sub(lambda m: names.setdefault(m[0], b"boundary-%d" % len(names)), content)


def _send_all(backend: str, inbox, port: int) -> list[tuple[str, list[str], bytes]]:
    inbox.reset()
    connection = get_connection(backend, host="127.0.0.1", port=port, timeout=5)
    assert connection.send_messages(_messages()) == 4
    return [
        (item.sender, item.to, _named_boundaries(item.content))
        for item in sorted(inbox.received, key=lambda item: item.reminder_id)
    ]


def test_the_same_envelopes_and_bytes_as_djangos_backend(smtp_server, inbox):
    ours = _send_all("core.email.SMTPBackend", inbox, smtp_server.port)
    django = _send_all("django.core.mail.backends.smtp.EmailBackend", inbox, smtp_server.port)
    assert ours == django
    assert [(sender, to) for sender, to, _ in ours] == [
        ("reminders@taskgraph.localhost", ["owner@example.com"]),
        ("zoe@example.com", ["owner@xn--exmple-cua.com", "cc@example.com", "hidden@example.com"]),
        ("reminders@taskgraph.localhost", ["owner@example.com", "second@example.com"]),
        ("reminders@taskgraph.localhost", ["owner@example.com"]),
    ]
    assert ours[0][2].startswith(
        b'Content-Type: multipart/alternative;\r\n boundary="boundary-0"\r\nMIME-Version: 1.0\r\n'
    )


def test_an_invalid_address_is_refused_as_djangos_backend_refuses_it(smtp_server, inbox):
    for backend in ("core.email.SMTPBackend", "django.core.mail.backends.smtp.EmailBackend"):
        message = EmailMessage("Hi", "Body", "a@example.com", ["a@b@c"], headers=_headers(9))
        connection = get_connection(backend, host="127.0.0.1", port=smtp_server.port)
        with pytest.raises(ValueError, match=r'^Invalid address "a@b@c"$'):
            connection.send_messages([message])
    assert inbox.received == []


def test_a_boundary_found_in_the_parts_is_not_used(smtp_server, inbox, monkeypatch):
    draws = iter([1, 2])
    monkeypatch.setattr(core_email.secrets, "randbelow", lambda _: next(draws))
    taken = "===============0000000000000000001=="
    message = EmailMultiAlternatives(
        "Hi",
        f"A line with {taken} inside.\n",
        "a@example.com",
        ["b@example.com"],
        headers=_headers(5),
    )
    message.attach_alternative("<p>Hi</p>", "text/html")
    connection = get_connection("core.email.SMTPBackend", host="127.0.0.1", port=smtp_server.port)
    assert connection.send_messages([message]) == 1
    (received,) = inbox.received
    assert received.message.get_boundary() == "===============0000000000000000002=="
    assert received.message.get_payload(0).get_payload() == f"A line with {taken} inside.\r\n"
    assert next(draws, None) is None  # the first draw was taken, the second used


# Header values as Django hands them to the generator: str, ASCII or not, any length.
header_values = st.text(
    alphabet=st.sampled_from([*map(chr, range(0x20, 0x7F)), "\t", "é"]), max_size=90
)


@given(
    name=st.sampled_from(["Subject", "To", "X-Taskgraph-Reminder", "Content-Type", "X"]),
    value=header_values,
)
@example(name="Subject", value="s" * 69)  # exactly 78 characters with "Subject: "
@example(name="Subject", value="s" * 70)  # one more
@example(name="Subject", value=" leading and trailing ")
@example(name="Subject", value="")
def test_headers_fold_as_compat32_folds_them(name, value):
    assert _WIRE_POLICY.fold_binary(name, value) == compat32.clone(linesep="\r\n").fold_binary(
        name, value
    )


# Messages of text only (what core.email._text_message_bytes writes itself): any subject,
# addresses with and without non-ASCII names, bodies with every line ending, lines near the
# 998-byte limit (over it, Django switches to quoted-printable and so do we, by not writing
# the message ourselves), text/* alternatives, extra headers that replace message()'s own.
line_text = st.text(alphabet=st.sampled_from([*"ab Z09.<>&=-", "é", "☕", "\t"]), max_size=40)
bodies = st.lists(
    st.one_of(line_text, st.integers(990, 1004).map(lambda n: "x" * n)), max_size=5
).flatmap(
    lambda lines: st.lists(
        st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines), max_size=len(lines)
    ).map(lambda ends: "".join(line + end for line, end in zip(lines, ends, strict=True)))
)
subjects = st.text(alphabet=st.sampled_from([*"Reminder: (Task) 5,", "é", "✓", "\t"]), max_size=120)
addresses = st.sampled_from(
    [
        "owner@example.com",
        "Owner Name <owner@example.com>",
        "Zoë Équipe <zoe@example.com>",
        "Ünïcode <owner@exämple.com>",
        '"Last, First" <first@example.com>',
    ]
)
extra_headers = st.dictionaries(
    st.sampled_from(["X-Taskgraph-Reminder", "To", "to", "From", "Cc", "Reply-To", "X-Note"]),
    header_values,
    max_size=3,
)


@st.composite
def text_messages(draw) -> EmailMessage:
    kind = draw(st.sampled_from([EmailMessage, EmailMultiAlternatives]))
    message = kind(
        subject=draw(subjects),
        body=draw(bodies),
        from_email=draw(addresses),
        to=draw(st.lists(addresses, min_size=1, max_size=3)),
        cc=draw(st.lists(addresses, max_size=2)),
        reply_to=draw(st.lists(addresses, max_size=1)),
        headers={**draw(extra_headers), "Date": DATE, "Message-ID": "<m@taskgraph.localhost>"},
    )
    message.content_subtype = draw(st.sampled_from(["plain", "html"]))
    if kind is EmailMultiAlternatives:
        for text in draw(st.lists(bodies, max_size=2)):
            message.attach_alternative(text, draw(st.sampled_from(["text/html", "text/calendar"])))
    return message


def _django_bytes(message: EmailMessage, encoding="utf-8", key_header="", key="") -> bytes:
    mime = message.message()
    if key_header:
        mime[key_header] = key
    return mime.as_bytes(linesep="\r\n")  # what Django's SMTP backend sends


def _has_long_line(message: EmailMessage) -> bool:
    texts = [message.body, *(text for text, _ in getattr(message, "alternatives", []))]
    return any(len(line.encode()) > 998 for text in texts for line in text.splitlines())


@given(message=text_messages(), key=st.booleans())
def test_text_messages_are_written_as_django_writes_them(message, key):
    key_header = "Resend-Idempotency-Key" if key else ""
    outcomes = []
    for write in (core_email._text_message_bytes, _django_bytes):
        try:
            written = write(message, "utf-8", key_header, "reminder/5/1795000000")
        except ValueError as exc:  # an extra To or From header that is no address
            outcomes.append((type(exc), str(exc)))
        else:
            outcomes.append(written if written is None else _named_boundaries(written))
    ours, django = outcomes
    if _has_long_line(message):
        assert ours is None  # quoted-printable: built the standard way
    else:
        assert ours == django


def test_date_and_message_id_are_made_as_django_makes_them(monkeypatch):
    for module in (core_email, django_message):
        monkeypatch.setattr(module, "formatdate", lambda localtime: f"local {localtime}")
        monkeypatch.setattr(module, "make_msgid", lambda domain: f"<id@{domain}>")
    message = EmailMultiAlternatives("Hi", "Body\n", "a@example.com", ["b@example.com"])
    message.attach_alternative("<p>Body</p>", "text/html")
    ours = core_email._text_message_bytes(message, "utf-8", "", None)
    assert _named_boundaries(ours) == _named_boundaries(_django_bytes(message))
    assert b"\r\nDate: local False\r\nMessage-ID: <id@" in ours


@pytest.mark.parametrize(
    "message",
    [
        EmailMessage("Hi", b"bytes body", "a@example.com", ["b@example.com"]),
        EmailMessage("Hi", "Body", "a@example.com", ["b@example.com"], attachments=[("a", "b")]),
        EmailMessage("Hi", "x" * 999, "a@example.com", ["b@example.com"]),
        type("Custom", (EmailMessage,), {})("Hi", "Body", "a@example.com", ["b@example.com"]),
    ],
    ids=["bytes-body", "attachment", "long-line", "subclass"],
)
def test_other_messages_are_left_to_the_standard_way(message):
    assert core_email._text_message_bytes(message, "utf-8", "", None) is None


def test_other_encodings_are_left_to_the_standard_way():
    message = EmailMessage("Hi", "Body", "a@example.com", ["b@example.com"])
    assert core_email._text_message_bytes(message, "UTF-8", "", None) is None
    assert core_email._text_message_bytes(message, "iso-8859-1", "", None) is None


def test_a_header_with_a_line_break_is_refused_as_django_refuses_it():
    message = EmailMessage("Hi\nBcc: x@example.com", "Body", "a@example.com", ["b@example.com"])
    with pytest.raises(BadHeaderError, match="Header values can't contain newlines"):
        core_email._text_message_bytes(message, "utf-8", "", None)
    with pytest.raises(BadHeaderError, match="Header values can't contain newlines"):
        message.message()
