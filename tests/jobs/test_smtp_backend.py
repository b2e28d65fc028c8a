"""core.email.SMTPBackend puts on the wire what Django's SMTP backend puts there.

Both send the same messages to the loopback SMTP server of the tests; the envelopes and the
bytes received must be equal once the random MIME boundaries are named by their order.
"""

import re
from email._policybase import compat32

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
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
