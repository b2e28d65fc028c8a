"""One client process of the login storm: N threads send one wrong-password login each, all
released at the same moment. Prints the error codes it got, one per line.

    python -m tests.security.login_storm URL EMAIL THREADS START_AT_EPOCH
"""

import json
import sys
import threading
import time
import urllib.request

CSRF = "c" * 32
LOGIN = 'mutation($e: String!) { login(email: $e, password: "wrong guess") { errors { code } } }'


def attempt(url: str, email: str, codes: list[str]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": LOGIN, "variables": {"e": email}}).encode(),
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": CSRF,
            "Cookie": f"csrftoken={CSRF}",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    codes.extend(error["code"] for error in body["data"]["login"]["errors"])


def main() -> None:
    url, email, threads, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    codes: list[str] = []
    workers = [threading.Thread(target=attempt, args=(url, email, codes)) for _ in range(threads)]
    time.sleep(max(0.0, start_at - time.time()))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print("\n".join(codes))


if __name__ == "__main__":
    main()
