"""OpenAI tool calling end to end: ``stagecheck run scenarios/tool-calls.yaml`` (the CLI as a
subprocess) against ``stagecheck demo-server --agent``, its answers streamed or not. Each row
is one question that expects a call (or none); the demo's ``--wrong-tool-rate`` makes a known
share of its calls call the other tool, and the run must find that share within its interval,
with the reason on every wrong answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stagecheck.stats import wilson
from tests.e2e.conftest import CliResult
from tests.support import FAST, SCENARIOS, running_demo

pytestmark = pytest.mark.e2e

SCENARIO = str(SCENARIOS / "tool-calls.yaml")


def _rows() -> list[dict[str, Any]]:
    path = SCENARIOS / "data" / "support_tool_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _expects_a_call(row: dict[str, Any]) -> bool:
    return row["expected"]["tool_call"] is not None


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_the_wrong_tool_rate_is_found_with_its_reason(
    cli: Callable[..., CliResult], stream: bool
) -> None:
    rate = 0.3
    with running_demo(*FAST, "--agent", "--wrong-tool-rate", str(rate)) as demo:
        res = cli("run", SCENARIO, "--set", f"endpoint.url={demo.url}",
                  "--set", f"endpoint.options.stream={str(stream).lower()}")  # fmt: skip
    assert res.code == 1, res.stderr[-2000:]  # tool_call.accuracy >= 0.95 fails, nothing else
    summary = res.summary
    failed = [t["metric"] for t in summary["thresholds"] if not t["passed"]]
    assert failed == ["accuracy", "tool_call.accuracy"]
    lines = res.results()
    rows = _rows()
    assert len(lines) == len(rows)  # exact pass
    calls = [x for x in lines if _expects_a_call(rows[x["row"]])]
    wrong = [x for x in lines if x["outcome"] != "correct"]
    # every wrong answer is a call of the other tool, said as its reason; the call it made is
    # what it got
    assert wrong and all(x["outcome"] == "incorrect" for x in wrong)
    for x in wrong:
        other = "open_return" if "lookup_order" in x["expected"] else "lookup_order"
        assert x["predicted"] == f"wrong tool: {other}", x
        assert x["got"].startswith(other + "("), x
    # the knob's rate, found by the run: within the 95 % interval of the calls' wrong share
    low, high = wilson(len(wrong), len(calls))
    assert low <= rate <= high, (len(wrong), len(calls))
    tc = summary["tool_calls"]
    assert tc["scored"] == len(lines) and tc["correct"] == len(lines) - len(wrong)
    assert sum(tc["reasons"].values()) == len(wrong)
    assert set(tc["reasons"]) <= {"wrong tool: open_return", "wrong tool: lookup_order"}
    observed = {t["metric"]: t["observed"] for t in summary["thresholds"]}
    assert observed["tool_call.accuracy"] == pytest.approx(tc["correct"] / tc["scored"])
    analysis_reasons = {w["predicted"] for w in summary["analysis"]["wrong"]}
    assert analysis_reasons == set(tc["reasons"])
    if stream:
        assert summary["latency"]["ttft"]["count"] == len(lines)
    # the reasons, counted, in the reports a person reads
    top = max(tc["reasons"], key=tc["reasons"].get)
    shown = f"{top} ×{tc['reasons'][top]}"
    assert shown in (res.run_dir / "summary.md").read_text().replace("\\_", "_")
    html = (res.run_dir / "report.html").read_text()
    assert 'id="tool-calls"' in html and shown in html


def test_a_right_model_passes_and_a_scenario_without_tools_is_bad_input(
    cli: Callable[..., CliResult],
) -> None:
    with running_demo(*FAST, "--agent") as demo:
        res = cli("run", SCENARIO, "--set", f"endpoint.url={demo.url}")
        assert res.code == 0, res.stderr[-2000:]
        assert res.summary["tool_calls"]["accuracy"] == 1.0
        assert res.summary["tool_calls"]["reasons"] == {}
        bad_tools = "endpoint.options.tools=[{type: function, function: {name: 'a b'}}]"
        bad = cli("run", SCENARIO, "--set", f"endpoint.url={demo.url}", "--set", bad_tools)
    assert bad.code == 2
    assert "endpoint.options.tools" in bad.stderr and "Traceback" not in bad.stderr


def _reference_turns(path: Any) -> int:
    """Every turn of the demo's conversations as one row holding its reference history (the
    dataset's earlier answers and tool results, as ``history: reference`` sends them): a
    stand-in, through ``messages_field``, for the conversation runner of issue 21."""
    from stagecheck.protocols.openai_chat import assistant_messages

    conversations = SCENARIOS / "data" / "support_conversations.jsonl"
    out = []
    for text in conversations.read_text().splitlines():
        c = json.loads(text)
        messages: list[dict[str, Any]] = []
        for n, turn in enumerate(c["turns"], 1):
            messages.append({"role": "user", "content": turn["user"]})
            out.append({"id": f"{c['id']}-{n}", "messages": list(messages),
                        "expected": turn["expected"], "turn": str(min(n, 2))})  # fmt: skip
            call = turn["expected"].get("tool_call") if isinstance(turn["expected"], dict) else None
            messages += assistant_messages(call or turn["assistant"], turn.get("tool_result"))
    path.write_text("".join(json.dumps(r) + "\n" for r in out))
    return len(out)


def test_the_forget_rate_is_found_on_the_turns_that_need_the_history(
    cli: Callable[..., CliResult], tmp_path: Any
) -> None:
    rows = _reference_turns(tmp_path / "turns.jsonl")
    scenario = (SCENARIOS / "tool-calls.yaml").read_text().split("dataset:")[0] + f"""
dataset:
  path: {tmp_path / "turns.jsonl"}
  input: messages
  expected: expected
  id: id
  slices: [turn]
  passes: 1
scoring:
  kind: tool-call
  arguments: {{order_id: exact, reason: contains}}
  text: {{kind: contains}}
load: {{users: 4, spawn_rate: 4, duration: 60s}}
thresholds: [accuracy >= 0.99]
"""
    (tmp_path / "turns.yaml").write_text(scenario)
    rate = 0.25
    with running_demo(*FAST, "--agent", "--forget-rate", str(rate)) as demo:
        res = cli("run", str(tmp_path / "turns.yaml"), "--set", f"endpoint.url={demo.url}",
                  "--set", "endpoint.options.messages_field=messages")  # fmt: skip
    assert res.code == 1, res.stderr[-2000:]
    lines = res.results()
    assert len(lines) == rows
    first = [x for x in lines if x["slices"]["turn"] == "1"]
    later = [x for x in lines if x["slices"]["turn"] == "2"]  # turns 2 to 5
    assert all(x["outcome"] == "correct" for x in first)  # nothing to forget on turn 1
    wrong = sum(x["outcome"] != "correct" for x in later)
    low, high = wilson(wrong, len(later))
    assert low <= rate <= high, (wrong, len(later))
    # a forgotten return is a missing call; a forgotten fact a wrong text
    reasons = {x.get("predicted") for x in later if x["outcome"] != "correct"}
    assert reasons == {None, "no call"}


def test_stagecheck_demo_serves_the_assistant_to_a_scenario_with_tools(
    cli: Callable[..., CliResult],
) -> None:
    res = cli("demo", SCENARIO)
    assert res.code == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "(assistant with tools: --agent)" in res.stdout
    assert res.summary["tool_calls"]["accuracy"] == 1.0
