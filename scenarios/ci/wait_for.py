"""Wait until a URL answers 200 (up to 30 s): ``python scenarios/ci/wait_for.py URL``.

For CI images without curl; exits 1 if the URL never answered.
"""

from __future__ import annotations

import sys
import time
import urllib.request

url = sys.argv[1]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
print(f"{url} did not answer within 30 s", file=sys.stderr)
sys.exit(1)
