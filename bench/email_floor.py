"""The floor of bench/reminders.py: a bare client sending one pre-built reminder email again and
again to a provider of tests/providers.py; no database, no Django, no Dramatiq.

    python bench/email_floor.py SPEC --emails N --threads T

SPEC (JSON, written by bench/reminders.py) holds the email exactly as the worker's transport
sends it: for ``smtp`` the envelope and the message's bytes, which ``smtplib.SMTP.sendmail``
sends; for ``postmark`` and ``resend`` the URL, headers and JSON body Anymail posts, which a
``requests.Session`` posts (Resend: with an ``Idempotency-Key`` of its own per email, as the
worker's differ by reminder, or the provider would take one email only). T threads, each with
one connection kept open, share the N emails. The process prints "ready" once set up and
starts on a line on stdin, so that several of them start together; it prints the CPU seconds
it spent sending when done.
"""

import argparse
import base64
import itertools
import json
import os
import smtplib
import sys
import threading
import time
from pathlib import Path

import requests


def smtp_sender(spec: dict):
    client = smtplib.SMTP(spec["host"], spec["port"], local_hostname="localhost", timeout=10)
    message = base64.b64decode(spec["message"])

    def send(n: int) -> None:
        client.sendmail(spec["from"], spec["to"], message)

    return send, client.quit


def http_sender(spec: dict):
    session = requests.Session()
    session.headers["User-Agent"] = spec["user_agent"]
    session.trust_env = False  # as the worker's Mailer, which reads the environment once

    def send(n: int) -> None:
        headers = spec["headers"]
        if "Idempotency-Key" in headers:
            headers = {**headers, "Idempotency-Key": f"floor/{os.getpid()}/{n}"}
        session.post(spec["url"], data=spec["body"], headers=headers, timeout=10).raise_for_status()

    return send, session.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--emails", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    connect = smtp_sender if spec["transport"] == "smtp" else http_sender
    numbers = itertools.count()

    def work() -> None:
        send, close = connect(spec)
        try:
            while (n := next(numbers)) < args.emails:
                send(n)
        finally:
            close()

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    print("ready", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(time.process_time() - cpu, flush=True)


if __name__ == "__main__":
    main()
