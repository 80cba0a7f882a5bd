"""Tool calls read from a third-party OpenAI-compatible server: LiteLLM's proxy (PyPI
``litellm[proxy]``), its model mocked (``mock_tool_calls``: every answer calls
``lookup_order({"order_id": "A1234"})`` with the text "unused"), replayed by ``stagecheck run``.
Its mock does not stream tool calls, so only whole answers are checked here.

Skipped unless a ``litellm`` command is found (``STAGECHECK_LITELLM`` or the PATH): it is not
one of stagecheck's dependencies (install it in a venv of its own). No real model can run here
from PyPI: llama-cpp-python ships no wheel for this platform (its source build compiles
llama.cpp) and no PyPI package known here ships a small GGUF model with a tool-calling template.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import REPO, SCENARIOS, free_master_port, read_results

pytestmark = pytest.mark.integration

LITELLM = os.environ.get("STAGECHECK_LITELLM") or shutil.which("litellm")

CONFIG = """
model_list:
  - model_name: m
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-fake
      mock_response: unused
      mock_tool_calls:
        - id: call_1
          type: function
          function: {name: lookup_order, arguments: '{"order_id": "A1234"}'}
litellm_settings: {telemetry: false}
"""


def _reason(expected: dict[str, object]) -> str:
    call = expected["tool_call"]
    if call is None:
        return "unexpected call: lookup_order"
    assert isinstance(call, dict)
    if call["name"] == "lookup_order":
        return "wrong argument: order_id"
    return "wrong tool: lookup_order"


@pytest.mark.skipif(LITELLM is None, reason="no litellm command (pip install 'litellm[proxy]')")
def test_tool_calls_from_litellms_proxy_are_read_and_scored(tmp_path: Path) -> None:
    assert LITELLM is not None
    (tmp_path / "litellm.yaml").write_text(CONFIG)
    port = free_master_port()
    env = {**os.environ, "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # fmt: skip
    server = subprocess.Popen(
        [LITELLM, "--config", str(tmp_path / "litellm.yaml"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health/liveliness", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None, "litellm exited"
                assert time.monotonic() < deadline, "litellm did not start within 120 s"
                time.sleep(0.5)
        out = tmp_path / "runs"
        proc = subprocess.run(
            [sys.executable, "-m", "stagecheck.cli", "run", str(SCENARIOS / "tool-calls.yaml"),
             "--set", f"endpoint.url={url}", "--set", "endpoint.model=m",
             "--set", "dataset.limit=12", "--out", str(out), "--quiet"],
            capture_output=True, text=True, timeout=180, cwd=REPO,
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert proc.returncode == 1, proc.stderr[-2000:]
    (run_dir,) = list(out.iterdir())
    rows = [json.loads(x) for x in (SCENARIOS / "data" / "support_tool_calls.jsonl").open()]
    lines = read_results(run_dir)
    assert len(lines) == 12
    for x in lines:
        assert x["outcome"] == "incorrect"
        assert x["predicted"] == _reason(rows[x["row"]]["expected"]), x
        assert x["got"] == 'lookup_order({"order_id": "A1234"}) · unused'
