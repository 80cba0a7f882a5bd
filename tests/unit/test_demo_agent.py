"""The demo's assistant with tools: the bundled conversations are all answered right with its
knobs at 0, its knobs break exactly the turns they are about, and its answers' wire shapes
(a tool call whole, and streamed as OpenAI streams it)."""

from __future__ import annotations

import json

import pytest

from stagecheck.demo.agent import ASK_ORDER, Agent, AgentTurn
from stagecheck.demo.agent_payloads import AgentRequest, agent_response, agent_stream_chunks
from stagecheck.demo.config import DemoConfig
from stagecheck.demo.make_conversations import (
    CONVERSATIONS_PATH,
    TOOL_CALLS_PATH,
    check,
    generate,
    single_turns,
)
from stagecheck.protocols import STREAM_DONE, build_adapter
from stagecheck.protocols.openai_chat import ChatAnswer, ToolCall
from stagecheck.protocols.openai_tools import assistant_messages

pytestmark = pytest.mark.unit

TOOLS = ("lookup_order", "open_return")


def test_the_bundled_files_are_what_the_generator_makes() -> None:
    conversations = generate()
    assert CONVERSATIONS_PATH.read_text().splitlines() == [json.dumps(c) for c in conversations]
    rows = single_turns(conversations)
    assert TOOL_CALLS_PATH.read_text().splitlines() == [json.dumps(r) for r in rows]
    assert 60 <= len(conversations) <= 120
    assert {len(c["turns"]) for c in conversations} == {1, 2, 3, 4, 5}
    assert {c["complexity"] for c in conversations} == {"simple", "medium", "complex"}


def test_knobs_at_zero_answer_every_turn_right_and_each_knob_breaks_its_turns() -> None:
    conversations = generate()
    assert check(conversations) == []
    later = sum(len(c["turns"]) - 1 for c in conversations)
    calls = sum(1 for c in conversations for t in c["turns"]
                if isinstance(t["expected"], dict) and t["expected"]["tool_call"])  # fmt: skip
    forgot = check(conversations, Agent(forget_rate=1.0))
    assert len(forgot) == later  # every turn that needs the history, and only those
    assert not any(" turn 1:" in w for w in forgot)
    wrong_tool = check(conversations, Agent(wrong_tool_rate=1.0))
    assert len(wrong_tool) == calls
    assert all("wrong tool" in w for w in wrong_tool)


def test_follow_ups_read_the_history() -> None:
    agent = Agent()
    lookup = {"name": "lookup_order", "arguments": {"order_id": "A1234"}}
    result = {"status": "shipped", "eta": "9 December", "total": "20.00 EUR"}
    history = [{"role": "user", "content": "Where is my order A1234?"},
               *assistant_messages(lookup, result)]  # fmt: skip
    ask = [*history, {"role": "user", "content": "When does it arrive?"}]
    assert agent.reply(ask, TOOLS) == AgentTurn("It arrives on 9 December.")
    ret = [*history, {"role": "user", "content": "It arrived broken, can I return it?"}]
    assert agent.reply(ret, TOOLS).call == ("open_return", {"order_id": "A1234",
                                                            "reason": "damaged"})  # fmt: skip
    assert Agent(forget_rate=1.0).reply(ask, TOOLS) == AgentTurn(ASK_ORDER)
    # a tool the request does not declare is never called
    alone = [{"role": "user", "content": "Where is my order A1234?"}]
    assert agent.reply(alone, ("open_return",)).call is None


def test_knobs_need_the_agent_mode_and_a_share() -> None:
    with pytest.raises(ValueError, match="--agent"):
        DemoConfig(forget_rate=0.2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        DemoConfig(agent=True, wrong_tool_rate=1.5)
    with pytest.raises(ValueError, match="pick one"):
        DemoConfig(agent=True, chatbot=True)


def _request(stream: bool) -> AgentRequest:
    return AgentRequest("q", "q", stream, None, None, True, (), TOOLS)


def test_a_call_whole_and_streamed_reads_back_as_the_same_answer() -> None:
    turn = AgentTurn(call=("lookup_order", {"order_id": "A1234"}))
    tools = [{"function": {"name": n}} for n in TOOLS]
    adapter = build_adapter("openai-chat", model=None, inputs=("q",), options={"tools": tools})
    whole = adapter.parse(json.dumps(agent_response(_request(False), turn, "x-1", 0, "m")).encode())
    want = ChatAnswer("", (ToolCall("call_1", "lookup_order", '{"order_id": "A1234"}'),))
    assert whole == want
    chunks, tokens = agent_stream_chunks(_request(True), turn, "x-1", 0, "m")
    assert tokens > 2  # the name, then the arguments in pieces
    pieces = []
    for chunk in chunks:
        piece = adapter.parse_stream_line(b"data: " + json.dumps(chunk).encode())
        if isinstance(piece, str):
            pieces.append(piece)
    assert adapter.parse_stream_line(b"data: [DONE]") is STREAM_DONE
    assert adapter.finish_stream("".join(pieces)) == want
