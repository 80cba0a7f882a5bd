"""What several test packages share: repository paths and the real demo endpoint's fast knobs."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"
# Fast demo knobs: short latency so exact passes over 480 rows take a few seconds.
FAST = ("--latency-ms", "2", "--jitter-ms", "1", "--slowdown-ms-per-request", "0",
        "--complex-extra-ms", "0", "--token-delay-ms", "1")  # fmt: skip


@dataclass
class Demo:
    """A running demo endpoint: its URL and its own request counters."""

    url: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as r:
            return json.load(r)

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/stats/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=5).close()
