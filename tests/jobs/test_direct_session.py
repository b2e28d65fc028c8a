"""core.http.DirectSession: what Anymail's API backends get from it is what requests gives."""

import json
import socket

import pytest
import requests

from core.http import DirectSession
from tests.processes import SMTP_PORTS, free_port
from tests.providers import PostmarkServer


@pytest.fixture
def postmark():
    server = PostmarkServer(port=free_port(SMTP_PORTS), latency_s=0)
    server.start()
    yield server
    server.stop()


def send(session: requests.Session, server: PostmarkServer, *, token=None, timeout=5.0):
    body = {"To": "a@example.com", "Headers": [{"Name": "X-Taskgraph-Reminder", "Value": "7"}]}
    return session.request(
        method="POST",
        url=f"{server.url}email",
        params=None,
        data=json.dumps(body),
        headers={"X-Postmark-Server-Token": token or server.token, "Accept": "application/json"},
        files=None,
        auth=None,
        timeout=timeout,
    )


def direct(**settings) -> DirectSession:
    session = requests.Session()
    session.headers["User-Agent"] = "django-anymail/test"
    for name, value in settings.items():
        setattr(session, name, value)
    adopted = DirectSession.adopt(session)
    adopted.trust_env = False
    return adopted


@pytest.mark.parametrize("token", [None, "wrong"])
def test_answers_as_requests_does(postmark, token):
    plain = requests.Session()
    plain.headers["User-Agent"] = "django-anymail/test"
    expected = send(plain, postmark, token=token)
    got = send(direct(), postmark, token=token)

    assert (got.status_code, got.reason, got.url, got.ok) == (
        expected.status_code,
        expected.reason,
        expected.url,
        expected.ok,
    )
    assert got.headers["Content-Type"] == expected.headers["Content-Type"] == "application/json"
    assert got.encoding == expected.encoding
    answer, expected_answer = got.json(), expected.json()
    assert sorted(answer) == sorted(expected_answer)
    assert answer["ErrorCode"] == expected_answer["ErrorCode"] == (0 if token is None else 10)
    assert (got.request.method, got.request.url) == ("POST", f"{postmark.url}email")
    assert got.request.headers["User-Agent"] == "django-anymail/test"
    accepted = [item.reminder_id for item in postmark.record.accepted]
    assert accepted == ([7, 7] if token is None else [])


def test_one_keep_alive_connection_carries_every_request(postmark):
    session = direct()
    for _ in range(5):
        assert send(session, postmark).status_code == 200
    assert postmark.record.connections() == 1


def test_a_refused_connection_is_a_requests_connection_error():
    port = free_port(SMTP_PORTS)
    server = PostmarkServer(port=port)  # never started: nothing listens
    with pytest.raises(requests.ConnectionError):
        send(direct(), server)


def test_a_slow_answer_is_a_requests_read_timeout():
    listener = socket.create_server(("127.0.0.1", free_port(SMTP_PORTS)))
    try:
        server = PostmarkServer(port=listener.getsockname()[1])  # accepts, never answers
        with pytest.raises(requests.ReadTimeout):
            send(direct(), server, timeout=0.2)
    finally:
        listener.close()


def test_a_proxy_is_used_through_requests(postmark):
    with pytest.raises(requests.exceptions.ProxyError):  # nothing listens on the proxy's port
        send(direct(proxies={"http": f"http://127.0.0.1:{free_port(SMTP_PORTS)}"}), postmark)


def test_session_auth_is_sent_through_requests(postmark):
    response = send(direct(auth=("api", "key")), postmark)
    assert response.request.headers["Authorization"] == "Basic YXBpOmtleQ=="


def test_response_hooks_run_through_requests(postmark):
    seen = []
    send(
        direct(hooks={"response": [lambda response, **kwargs: seen.append(response.status_code)]}),
        postmark,
    )
    assert seen == [200]
