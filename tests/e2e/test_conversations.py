"""Conversation runs through the CLI: users play whole conversations turn after turn, every turn
a request scored and recorded; reference vs live history; open loop by conversation; a
distributed run never splits a conversation; bad conversation datasets exit 2, one line each.

Against the real demo chatbot (``--chatbot``) and, where the answer must depend on the history,
a small chat server on loopback (tests/conversation_server.py) that derails after a wrong
answer and records every request."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.conversation_server import running_chat_server
from tests.support import SCENARIOS, free_master_port, running_demo

pytestmark = pytest.mark.e2e

DATA = [json.loads(x) for x in (SCENARIOS / "data/chat_conversations.jsonl").read_text()
        .splitlines()]  # fmt: skip


@pytest.fixture(scope="module")
def chatbot():
    with running_demo("--chatbot", "--latency-ms", "2", "--token-delay-ms", "0") as demo:
        yield demo


def _rows(run_dir: Path) -> dict[int, dict[str, Any]]:
    lines = (run_dir / "rows.jsonl").read_text().splitlines()
    return {d["row"]: d for d in map(json.loads, lines)}


def test_exact_pass_plays_every_conversation_once_turn_after_turn(chatbot, cli):
    chatbot.reset()
    r = cli("run", str(SCENARIOS / "conversations-reference.yaml"),
            "--set", f"endpoint.url={chatbot.url}")  # fmt: skip
    assert r.code == 0, r.stderr[-3000:] + r.stdout
    s = r.summary
    turns = sum(len(c["turns"]) for c in DATA)
    # every turn is one request, seen by the server, each row once
    assert chatbot.stats()["requests_total"] == turns == s["requests"]["total"]
    results = r.results()
    assert sorted(x["row"] for x in results) == list(range(turns))
    rows = _rows(r.run_dir)
    assert [(d["conversation"], d["turn"]) for d in rows.values()] == [
        (c["id"], k) for c in DATA for k in range(1, len(c["turns"]) + 1)
    ]
    # one conversation at a time, in order: each turn starts after the one before it ended
    by_conv: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for x in results:
        row = rows[x["row"]]
        by_conv[row["conversation"]].append((row["turn"], x["t"], x["latency_us"]))
    for turns_seen in by_conv.values():
        turns_seen.sort()
        for (_, t0, lat0), (_, t1, _) in zip(turns_seen, turns_seen[1:], strict=False):
            assert t1 >= t0 + lat0 / 1e6 - 0.001
    # the figures against the results themselves
    right = {(rows[x["row"]]["conversation"], rows[x["row"]]["turn"]): x["outcome"] == "correct"
             for x in results}  # fmt: skip
    c = s["conversations"]
    assert c["conversations"] == len(DATA) and c["plays"] == len(DATA)
    success = sum(all(right[(d["id"], k)] for k in range(1, len(d["turns"]) + 1)) for d in DATA)
    assert c["success"]["events"] == success and c["success"]["n"] == len(DATA)
    for t in c["by_turn"]:
        at = [ok for (_, k), ok in right.items() if k == t["turn"]]
        assert (t["correct"], t["scored"]) == (sum(at), len(at))
        assert t["ttft_p50_us"] is not None  # streamed: TTFT per turn
    assert "### Conversations" in (r.run_dir / "summary.md").read_text()
    assert 'id="conversations"' in (r.run_dir / "report.html").read_text()
    report = cli("report", str(r.run_dir))
    assert "Conversations  8 (reference history) · 20 turns · 8 played to the end" in report.stdout
    gates = {t["expression"]: t for t in s["thresholds"]}
    assert gates["turn[1].accuracy >= 0.9"]["observed"] == c["by_turn"][0]["accuracy"]


def test_a_timed_run_replays_conversations_and_ends_between_turns_without_failures(
    chatbot, cli
):
    chatbot.reset()
    r = cli("run", str(SCENARIOS / "conversations-reference.yaml"),
            "--set", f"endpoint.url={chatbot.url}", "--set", "dataset.passes=null",
            "--set", "load.think_time=0.2s", "--users", "3", "--duration", "3s",
            "--set", "thresholds=[]")  # fmt: skip
    assert r.code == 0, r.stderr[-3000:]
    s = r.summary
    # every request sent is recorded; the turns the end of the run left unsent are none
    assert chatbot.stats()["requests_total"] == s["requests"]["total"]
    by_outcome = s["requests"]["by_outcome"]
    assert by_outcome["http_error"] == by_outcome["timeout"] == by_outcome["connection_error"] == 0
    c = s["conversations"]
    assert c["plays"] > c["conversations"]  # conversations replayed, each play whole
    assert c["plays"] + c["incomplete_plays"] >= 3


CONVERSATIONS = "\n".join(json.dumps({
    "id": f"c{i}", "kind": "bad" if i < 3 else "good",
    "turns": [{"user": f"c{i} t1 {'bad' if i < 3 else 'fine'}", "expected": "OK",
               "assistant": "OK ref"},
              {"user": f"c{i} t2", "expected": "OK", "assistant": "OK ref"},
              {"user": f"c{i} t3", "expected": "OK"}],
}) for i in range(6)) + "\n"  # fmt: skip


def _scenario(tmp_path: Path, url: str, history: str, load: str = "{users: 2}",
              thresholds: str = "[]") -> Path:  # fmt: skip
    (tmp_path / "convs.jsonl").write_text(CONVERSATIONS)
    path = tmp_path / f"{history}.yaml"
    path.write_text(f"""
name: conv-{history}
endpoint: {{url: "{url}", protocol: openai-chat, model: m}}
dataset:
  path: convs.jsonl
  input: user
  expected: expected
  slices: [kind]
  passes: 1
  conversations: {{history: {history}}}
scoring: {{kind: contains}}
load: {load}
thresholds: {thresholds}
""")
    return path


def test_live_history_sends_the_models_own_answers_and_measures_derailment(tmp_path, cli):
    with running_chat_server() as server:
        r = cli("run", str(_scenario(tmp_path, server.url, "live")))
        requests = list(server.requests)
    assert r.code == 0, r.stderr[-3000:]
    assert len(requests) == 18
    for req in requests:
        msgs = req["messages"]
        said = [m["content"] for m in msgs if m["role"] == "assistant"]
        # the history holds the server's own earlier answers, never the dataset's
        assert "OK ref" not in said
        history = []
        for m in msgs[:-1]:
            if m["role"] == "assistant":
                assert m["content"] == _answer(history)
            history.append(m)
    c = r.summary["conversations"]
    assert c["history"] == "live"
    # conversations c0-c2 go wrong at turn 1 and stay wrong: derailed
    assert c["success"]["events"] == 3 and c["success"]["n"] == 6
    assert [t["accuracy"] for t in c["by_turn"]] == [0.5, 0.5, 0.5]
    assert (c["wrong_after_wrong"]["events"], c["wrong_after_wrong"]["n"]) == (6, 6)
    assert (c["wrong_after_right"]["events"], c["wrong_after_right"]["n"]) == (0, 6)
    assert c["first_failure"] == {"1": 3, "none": 3}


def _answer(history: list[dict[str, Any]]) -> str:
    from tests.conversation_server import answer_of

    return answer_of(history)


def test_reference_history_sends_the_datasets_answers(tmp_path, cli):
    with running_chat_server() as server:
        r = cli("run", str(_scenario(tmp_path, server.url, "reference")))
        requests = list(server.requests)
    assert r.code == 0, r.stderr[-3000:]
    assert len(requests) == 18
    for req in requests:
        said = [m["content"] for m in req["messages"] if m["role"] == "assistant"]
        assert all(s == "OK ref" for s in said)
    c = r.summary["conversations"]
    # a wrong first turn does not carry over: each turn is scored in isolation
    assert [t["accuracy"] for t in c["by_turn"]] == [0.5, 1.0, 1.0]
    assert (c["wrong_after_wrong"]["events"], c["wrong_after_wrong"]["n"]) == (0, 3)


def test_open_loop_starts_conversations_at_the_arrival_rate(tmp_path, cli):
    with running_chat_server() as server:
        path = _scenario(tmp_path, server.url, "live",
                         load="{arrival_rate: 4/s, users: 6, think_time: 0.05s}")
        r = cli("run", str(path))
        assert len(server.requests) == 18
    assert r.code == 0, r.stderr[-3000:]
    rows = _rows(r.run_dir)
    firsts = sorted(x["t"] for x in r.results() if rows[x["row"]]["turn"] == 1)
    assert len(firsts) == 6
    # the first turn starts at its conversation's due time: 0.25 s apart
    gaps = [b - a for a, b in zip(firsts, firsts[1:], strict=False)]
    assert all(abs(g - 0.25) < 0.02 for g in gaps), gaps
    # its latency counts from the due time: the schedule's lag is recorded (a user wakes after
    # its due time, never before)
    assert all(x.get("lag_us", 0) > 0 for x in r.results() if rows[x["row"]]["turn"] == 1)
    later = [x for x in r.results() if rows[x["row"]]["turn"] > 1]
    assert all(not x.get("lag_us") for x in later)  # later turns count from their own send


def test_processes_never_split_a_conversation_between_workers(tmp_path, cli):
    with running_chat_server() as server:
        r = cli("run", str(_scenario(tmp_path, server.url, "live", load="{users: 4}")),
                "--processes", "2", "--master-port", str(free_master_port()))
        requests = list(server.requests)
    assert r.code == 0, r.stderr[-3000:]
    assert r.summary["run"]["workers"] == 2
    assert len(requests) == 18 == r.summary["requests"]["total"]
    owner: dict[str, set[int | None]] = defaultdict(set)
    for req in requests:
        conv = req["messages"][-1]["content"].split()[0]
        owner[conv].add(req["pid"])
    assert len(owner) == 6
    assert all(len(pids) == 1 and None not in pids for pids in owner.values()), owner
    assert len(set().union(*owner.values())) == 2  # both workers played conversations


A = '{"id": "a", "kind": "x", '


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (A + '"turns": []}', "convs.jsonl:1: conversation 'a' has no turns"),
        ('{"id": "a", "kind": "x"}', "convs.jsonl:1: turns field 'turns' is missing"),
        (A + '"turns": "hi"}', "convs.jsonl:1: turns field 'turns' must be a list of turns"),
        (A + '"turns": [{"expected": "x"}]}',
         "convs.jsonl:1: turn 1: input field 'user' is missing"),
        (A + '"turns": [{"user": "x", "expected": "y", "assistant": "a"}, {"user": "z"}]}',
         "convs.jsonl:1: turn 2: expected field 'expected' is missing"),
        (A + '"turns": [{"user": "x", "expected": "y"}, {"user": "z", "expected": "w"}]}',
         "convs.jsonl:1: turn 1: reference field 'assistant' is missing"),
        (A + '"turns": ["hello"]}', "convs.jsonl:1: turn 1: a turn must be an object"),
        # a conversation-level field every turn lacks: one line, not one a turn
        ('{"id": "a", "turns": [{"user": "x", "expected": "y", "assistant": "a"}, '
         '{"user": "z", "expected": "w"}]}', "convs.jsonl:1: slice field 'kind' is missing"),
    ],
)  # fmt: skip
def test_bad_conversations_exit_2_one_line_each(tmp_path, cli, line, needle):
    path = _scenario(tmp_path, "http://127.0.0.1:9", "reference")
    (tmp_path / "convs.jsonl").write_text(line + "\n" + CONVERSATIONS.splitlines()[3] + "\n")
    r = cli("validate", str(path))
    assert r.code == 2, r.stdout + r.stderr
    (problem,) = [x for x in r.stderr.splitlines() if x.strip()]  # one line, this problem
    assert needle in problem, r.stderr


def test_conversations_need_openai_chat_and_conversation_gates_a_conversation_dataset(
    tmp_path, cli
):
    path = _scenario(tmp_path, "http://127.0.0.1:9", "reference")
    path.write_text(path.read_text().replace("protocol: openai-chat", "protocol: kserve-v2"))
    r = cli("validate", str(path))
    assert r.code == 2 and "dataset.conversations: needs endpoint.protocol openai-chat" in r.stderr
    path = _scenario(tmp_path, "http://127.0.0.1:9", "reference",
                     thresholds='["turn[4].accuracy >= 0.8"]')
    r = cli("validate", str(path))
    assert r.code == 2, r.stderr
    assert "turn[4].accuracy >= 0.8: no conversation has 4 turns (the longest has 3)" in r.stderr
    path = _scenario(tmp_path, "http://127.0.0.1:9", "reference",
                     thresholds='["turn[2].latency.p99 < 1s"]')
    r = cli("validate", str(path))
    assert r.code == 2 and "thresholds[0]: 'turn[2].latency.p99': turn figures keep p50 and p95" \
        in r.stderr, r.stderr  # fmt: skip
    smoke = SCENARIOS / "smoke.yaml"
    r = cli("validate", str(smoke), "--set", "thresholds=[conversation.success >= 0.8]")
    assert r.code == 2, r.stderr
    assert "conversation.success needs a conversation dataset" in r.stderr


def test_compare_breaks_two_runs_down_turn_by_turn(tmp_path, cli):
    """A reference run against a live run of the same conversations: the live history's
    derailment shows at turns 2 and 3, not at turn 1."""
    from stagecheck.reporting.compare.runs import compare_folders

    with running_chat_server() as server:
        base = cli("run", str(_scenario(tmp_path, server.url, "reference")))
        new = cli("run", str(_scenario(tmp_path, server.url, "live")))
    assert base.code == new.code == 0, base.stderr[-2000:] + new.stderr[-2000:]
    rows = {r.metric: r for r in compare_folders(base.run_dir, new.run_dir).rows}
    turns = {m: (r.base, r.new) for m, r in rows.items() if m.startswith("accuracy[turn=")}
    assert turns == {"accuracy[turn=1]": (0.5, 0.5), "accuracy[turn=2]": (1.0, 0.5),
                     "accuracy[turn=3]": (1.0, 0.5)}  # fmt: skip


def test_a_conversation_runs_folder_rebuilt_keeps_the_conversation_as_its_unit(tmp_path, cli):
    """A dead run's folder (no summary.json) is rebuilt by ``stagecheck report`` from rows.jsonl
    and results.jsonl: its turns are still clustered by conversation, so the accuracy interval
    and its design effect are the run's own, not those of independent turns. (Live history:
    three conversations go wrong at their first turn and stay wrong.)"""
    with running_chat_server() as server:
        r = cli("run", str(_scenario(tmp_path, server.url, "live")))
    assert r.code == 0, r.stderr[-3000:]
    live = r.summary["quality"]
    (r.run_dir / "summary.json").unlink()
    report = cli("report", str(r.run_dir))
    assert report.code == 3, report.stderr[-3000:]  # a rebuilt run is incomplete: invalid
    rebuilt = json.loads((r.run_dir / "summary.json").read_text())["quality"]
    assert live["design_effect"] > 2.0  # the turns of a conversation go wrong together
    assert rebuilt["design_effect"] == live["design_effect"]
    assert rebuilt["accuracy_ci"] == live["accuracy_ci"]


@pytest.mark.parametrize("scenario", ["conversations-reference.yaml", "chatbot.yaml"])
def test_stagecheck_demo_serves_the_chatbot_to_a_chat_scored_as_free_text(cli, scenario):
    """``stagecheck demo SCENARIO`` for a chat scored as free text (not as a label) starts the
    demo's chatbot: the default intent classifier would answer every turn with a label, all
    of them wrong (a new user's first try of these scenarios failed 20 of 20)."""
    r = cli("demo", str(SCENARIOS / scenario), "--set", "load.duration=3s")
    assert r.code == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "(chatbot: --chatbot)" in r.stdout
    assert r.summary["requests"]["by_outcome"]["correct"] > 0
