"""The SSRF guard: every forbidden range refused when an endpoint is saved and again at connect
time, names that resolve to such addresses included (``localhost``; IP literals), no
redirects; the allow list lets exactly the listed address through."""

import pytest
import requests
from django.core.exceptions import ValidationError

from webhooks.ssrf import ForbiddenAddress, guarded_session, url_check

FORBIDDEN = [
    "http://127.0.0.1/",  # loopback
    "http://127.8.9.10:8080/",  # loopback, not .1
    "http://localhost/",  # a name resolving to loopback
    "http://[::1]/",  # IPv6 loopback
    "http://10.1.2.3/",  # private
    "http://172.16.0.1/",  # private
    "http://192.168.1.1/",  # private
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://[fe80::1]/",  # IPv6 link-local
    "http://[fd00:ec2::254]/",  # IPv6 unique local: AWS metadata
    "http://100.100.100.200/",  # CG-NAT: Alibaba metadata
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",  # IPv6 multicast
    "http://0.0.0.0/",  # unspecified
    "http://[::]/",  # IPv6 unspecified
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://2130706433/",  # 127.0.0.1 as a decimal number
    "http://0x7f000001/",  # and in hex
    "http://240.0.0.1/",  # reserved
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_forbidden_targets_are_refused_when_saved(url, settings):
    settings.WEBHOOK_ALLOWED_ADDRESSES = []
    with pytest.raises(ValidationError) as refused:
        url_check(url)
    assert refused.value.code in ("forbidden_address", "unresolvable")
    if refused.value.code == "forbidden_address":
        assert "which is not a public address" in refused.value.message % refused.value.params


@pytest.mark.parametrize(
    "url",
    FORBIDDEN,
)
def test_forbidden_targets_are_refused_at_connect_time(url, settings):
    settings.WEBHOOK_ALLOWED_ADDRESSES = []
    with guarded_session() as session, pytest.raises(requests.RequestException) as refused:
        session.post(url, data=b"{}", timeout=2)
    # Refused before any connection: by the address check, never a connection error.
    assert (
        not isinstance(refused.value, requests.ConnectionError)
        or isinstance(refused.value.__cause__, OSError) is False
    )
    assert type(refused.value).__name__ in ("InvalidIPAddress", "ForbiddenAddress")


def test_a_public_looking_name_resolving_to_loopback_is_refused_at_connect_time(receiver, settings):
    """``localhost`` stands for a DNS name that resolves to a forbidden address (no /etc/hosts
    edits, no DNS server needed): the check runs on the resolved address."""
    settings.WEBHOOK_ALLOWED_ADDRESSES = []
    with guarded_session() as session, pytest.raises(ForbiddenAddress):
        session.post(f"http://localhost:{receiver.port}/hook", data=b"{}")
    assert receiver.received == []


def test_the_allow_list_lets_only_the_listed_address_through(receiver, settings):
    settings.WEBHOOK_ALLOWED_ADDRESSES = ["127.0.0.1"]
    assert url_check(receiver.url) == receiver.url
    with pytest.raises(ValidationError):
        url_check("http://127.0.0.2/")
    with pytest.raises(ValidationError):
        url_check("http://10.0.0.1/")
    receiver.secret = "whsec_" + "A" * 43
    with guarded_session() as session:
        response = session.post(receiver.url, data=b"{}")
    assert response.status_code == 200
    with guarded_session() as session, pytest.raises(ForbiddenAddress):
        session.post(f"http://127.0.0.2:{receiver.port}/hook", data=b"{}")


def test_networks_in_the_allow_list(settings):
    settings.WEBHOOK_ALLOWED_ADDRESSES = ["10.0.5.0/24"]
    assert url_check("http://10.0.5.7/") == "http://10.0.5.7/"
    with pytest.raises(ValidationError):
        url_check("http://10.0.6.7/")


def test_redirects_are_not_followed(receiver, settings):
    settings.WEBHOOK_ALLOWED_ADDRESSES = ["127.0.0.1"]
    receiver.secret = "whsec_" + "A" * 43
    receiver.default_status = 307
    receiver.headers = {"location": receiver.url + "/elsewhere"}
    with guarded_session() as session:
        response = session.post(receiver.url, data=b"{}")
    assert response.status_code == 307
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("gopher://example.com/", "invalid"),
        ("http:///nohost", "invalid"),
        ("http://user:pw@example.com/", "invalid"),
        ("http://example.invalid/", "unresolvable"),
        ("http://[::1/", "invalid"),
    ],
)
def test_malformed_or_unresolvable_urls(url, code, settings):
    with pytest.raises(ValidationError) as refused:
        url_check(url)
    assert refused.value.code == code
