"""The SSRF guard: webhook targets must be public addresses, checked twice.

1. When an endpoint is saved (``url_check``): the URL's scheme and host, and every address its
   name resolves to now.
2. At connect time (``guarded_session``): requests-hardened resolves the name once, refuses a
   private, loopback, link-local (cloud metadata 169.254.169.254 included), multicast,
   unspecified, CG-NAT or otherwise reserved address, and connects to the address it checked
   (the name is not resolved a second time, so DNS rebinding between check and connect does
   not work). Redirects are never followed.

``WEBHOOK_ALLOWED_ADDRESSES`` lists addresses or networks let through anyway (tests allow
127.0.0.1). requests-hardened only knows "all loopback or none", so the adapter below asks it
first and, when it refuses an address, lets that one address through if the setting lists it.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress, _is_ip_in_extra_blocked_ranges
from requests_hardened.ip_filter_adapter import IPFilterAdapter

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenAddress(requests.RequestException):
    """The target resolved to an address outside the public internet."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in settings.WEBHOOK_ALLOWED_ADDRESSES]


def is_allowed(address: Address) -> bool:
    """Whether we may connect to this address: public, or listed in the setting."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks()):
        return True
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or _is_ip_in_extra_blocked_ranges(address)
    )


def url_check(url: str) -> str:
    """The URL if it may be a webhook target, else ValidationError (code ``forbidden_address``,
    ``unresolvable`` or ``invalid``)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError("Enter a valid http(s) URL.", code="invalid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter a valid http(s) URL.", code="invalid")
    if parts.username or parts.password:
        raise ValidationError("The URL must not carry credentials.", code="invalid")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(
            "The host %(host)s does not resolve.",
            code="unresolvable",
            params={"host": parts.hostname},
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not is_allowed(address):
            raise ValidationError(
                "The host %(host)s resolves to %(address)s, which is not a public address.",
                code="forbidden_address",
                params={"host": parts.hostname, "address": str(address)},
            )
    return url


class _AllowListAdapter(IPFilterAdapter):
    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        try:
            return super().build_connection_pool_key_attributes(request, verify, cert)
        except InvalidIPAddress as exc:
            address = ipaddress.ip_address(str(exc.args[0]))
            if not any(address in network for network in _allowed_networks()):
                raise ForbiddenAddress(
                    f"{request.url} resolves to {address}, which is not a public address."
                ) from None
        # Listed by WEBHOOK_ALLOWED_ADDRESSES: connect to the address requests-hardened
        # resolved and refused (the Host header is already set to the original name).
        host_params, pool_kwargs = HTTPAdapter.build_connection_pool_key_attributes(
            self, request, verify, cert
        )
        original = host_params["host"]
        host_params["host"] = str(address) if address.version == 4 else f"[{address}]"
        if self._is_https_proto:
            pool_kwargs["assert_hostname"] = original
            pool_kwargs["server_hostname"] = original
        return host_params, pool_kwargs


def guarded_session() -> requests.Session:
    """A requests session that connects only to allowed addresses and follows no redirect."""
    config = Config(
        ip_filter_enable=True,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=(
            settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
            settings.WEBHOOK_READ_TIMEOUT_SECONDS,
        ),
        user_agent_override="Taskgraph-Webhooks/1",
    )
    session = HTTPSession(config)
    session.mount("http://", _AllowListAdapter(is_https_proto=False))
    session.mount("https://", _AllowListAdapter(is_https_proto=True))
    session.trust_env = False  # no proxy from the environment: it would bypass the check
    return session
