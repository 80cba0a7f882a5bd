"""No secret given to stagecheck appears in anything it writes (issue 7, item 9).

A canary is given four ways at once — a header through ``${VAR}`` from the environment, URL
credentials, a query parameter of ``endpoint.options.path`` and a literal header through
``--set`` — to a real run against the demo endpoint; then every file of the run folder, stdout
and stderr are searched for it. A refused endpoint must not print the URL's credentials either.
"""

from __future__ import annotations

import socket
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.support import SCENARIOS

pytestmark = pytest.mark.e2e

ENV_VAR = "STAGECHECK_TEST_HEADER_VALUE"  # its name must not contain the canary


def _scenario(tmp_path: Path, url: str, canary: str) -> Path:
    path = tmp_path / "secret.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: secrets
            endpoint:
              url: {url}
              protocol: openai-chat
              model: intent-classifier
              headers: {{X-Api-Key: "${{{ENV_VAR}}}"}}
              options:
                path: /v1/chat/completions?api_key={canary}query&lang=en
            dataset:
              path: {SCENARIOS / "data" / "support_intents.jsonl"}
              input: text
              expected: label
              slices: [complexity]
            load: {{users: 2, duration: 5s}}
            thresholds: [accuracy >= 0.1]
            """
        ),
        encoding="utf-8",
    )
    return path


def _leaks(root: Path, canary: str) -> list[str]:
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and canary.encode() in p.read_bytes():
            found.append(str(p.relative_to(root)))
    return found


def test_a_canary_given_four_ways_appears_nowhere(demo, cli, tmp_path):
    canary = "CANARY" + uuid.uuid4().hex[:12]
    url = demo.url.replace("http://", f"http://user:{canary}url@", 1)
    scenario = _scenario(tmp_path, url, canary)
    demo.reset()
    r = cli(
        "run",
        str(scenario),
        "--duration",
        "2s",
        "--set",
        f"endpoint.headers.Authorization=Bearer {canary}set",
        env={ENV_VAR: f"{canary}env"},
    )
    assert r.code in (0, 1), r.stderr[-2000:]
    summary = r.summary
    assert summary["requests"]["total"] > 0
    assert summary["requests"]["by_outcome"]["correct"] > 0  # the path with its query worked
    assert demo.stats()["requests_total"] == summary["requests"]["total"]
    assert {"summary.json", "summary.md", "report.html", "junit.xml", "scenario.yaml"} <= {
        p.name for p in r.run_dir.iterdir()
    }
    assert _leaks(r.out_dir, canary) == []
    assert canary not in r.stdout
    assert canary not in r.stderr
    # what is shown instead says where the secrets were
    assert summary["run"]["endpoint"]["url"] == demo.url
    copy = (r.run_dir / "scenario.yaml").read_text()
    assert f"${{{ENV_VAR}}}" in copy  # unexpanded
    assert "api_key=<redacted>&lang=en" in copy
    assert "Authorization=<redacted>" in copy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_endpoint_error_keeps_the_credentials_secret(cli, tmp_path):
    canary = "CANARY" + uuid.uuid4().hex[:12]
    url = f"http://admin:{canary}@127.0.0.1:{_free_port()}"
    scenario = _scenario(tmp_path, url, canary)
    r = cli("run", str(scenario), "--duration", "2s", env={ENV_VAR: "x"}, timeout=60)
    assert r.code == 3, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unreachable" in lines[0], r.stderr
    assert "127.0.0.1" in lines[0]
    assert canary not in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_validate_shows_the_endpoint_without_credentials(cli, tmp_path):
    canary = "CANARY" + uuid.uuid4().hex[:12]
    scenario = _scenario(tmp_path, f"http://admin:{canary}@127.0.0.1:9", canary)
    r = cli("validate", str(scenario), "--set", f"endpoint.url=http://u:{canary}@127.0.0.1:bad")
    assert r.code == 2
    assert canary not in r.stderr + r.stdout
    r = cli("validate", str(scenario), env={ENV_VAR: "x"})
    assert r.code == 0, r.stderr
    assert "http://127.0.0.1:9" in r.stdout
    assert canary not in r.stderr + r.stdout
