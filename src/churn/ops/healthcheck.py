"""A container healthcheck that needs no curl: exits 0 when a URL answers 2xx within seconds.

`python -m churn.ops.healthcheck http://127.0.0.1:8000/ready` (the default URL); the slim Python
image has neither curl nor wget, and the standard library is enough.
"""

import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/ready"
TIMEOUT_SECONDS = 4


def check(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            return 0 if answer.status < 300 else 1
    except OSError as exc:  # URLError and HTTPError (a 503 from /ready) are OSErrors too
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL))
