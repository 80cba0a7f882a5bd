"""Conversation datasets: one conversation a JSONL line, each of its turns a prepared row.

A conversation line holds its id and slice fields at the top and its turns in a list
(``dataset.conversations.turns``); each turn has the user text (``dataset.input``), the expected
value (``dataset.expected``), optionally the reference answer (``…reference``) and a tool result
(``…tool_result``). The OpenAI ``messages`` form is accepted too (``…messages``): each user
message opens a turn, the assistant message after it is the turn's reference answer and carries
the turn's expected value under ``dataset.expected``; a ``tool`` message after it is the turn's
tool result; a leading ``system`` message stays first in every request.

Turn rows are contiguous and in order; a turn row's slices are its conversation's (a turn may
override one). In reference mode the request of each turn is built here, its history being the
dataset's earlier turns; in live mode the user builds it when sent (:mod:`stagecheck.locust.
conversation`), from the model's own answers.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagecheck.datasets.reader import detect_format, read_records
from stagecheck.errors import InputError
from stagecheck.fields import MISSING, field_value
from stagecheck.protocols import ProtocolAdapter
from stagecheck.protocols.openai_tools import ChatAnswer, ToolCall, assistant_messages

__all__ = ["ConversationTable", "assistant_side", "reference_answer", "load_conversations",
           "conversation_profile_lines", "turn_keys"]


def assistant_side(answer: Any, tool_result: Any) -> list[dict[str, Any]]:
    """The history messages of an answer (the assistant's, and with a tool call its ``tool``
    message carrying ``tool_result``)."""
    if not isinstance(answer, str):
        return list(assistant_messages(answer, tool_result))
    text = getattr(answer, "text", answer)
    return [{"role": "assistant", "content": "" if text is None else str(text)}]


def reference_answer(text: Any, expected: Any, turn: int) -> Any:
    """The dataset's answer of a turn, as history: its reference text, or the tool call it
    expected (as the model's answer would be, when tool calling is available)."""
    call = expected.get("tool_call") if isinstance(expected, dict) else None
    if isinstance(call, dict):
        args = call.get("arguments", {})
        return ChatAnswer(
            text="" if text is None else str(text),
            tool_calls=(ToolCall(id=f"call_{turn}", name=str(call.get("name", "")),
                                 arguments=args if isinstance(args, str) else json.dumps(args)),),
        )  # fmt: skip
    return "" if text is None else str(text)


@dataclass
class ConversationTable:
    """Which rows make which conversation, and what their history is built from."""

    history: str  # "reference" | "live"
    ids: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # first row of each conversation
    ends: list[int] = field(default_factory=list)  # one past its last row
    prefixes: list[list[dict[str, Any]]] = field(default_factory=list)  # system messages
    conversation_of: array = field(default_factory=lambda: array("q"))  # per row
    turn_of: array = field(default_factory=lambda: array("q"))  # per row, 1-based
    context_chars: array = field(default_factory=lambda: array("q"))  # per row, as written
    user_messages: list[dict[str, Any]] = field(default_factory=list)  # per row
    answers: list[Any] = field(default_factory=list)  # per row: the dataset's answer
    tool_results: list[Any] = field(default_factory=list)  # per row

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, conversation: int) -> range:
        return range(self.starts[conversation], self.ends[conversation])

    def turns_per_conversation(self) -> list[int]:
        return [e - s for s, e in zip(self.starts, self.ends, strict=True)]

    def add_conversation(self, name: str, first: int, end: int,
                         prefix: list[dict[str, Any]]) -> None:  # fmt: skip
        """The next conversation: its id, its rows ``first`` to ``end`` (one past its last) and
        the messages sent before its first turn (a system prompt)."""
        self.ids.append(name)
        self.starts.append(first)
        self.ends.append(end)
        self.prefixes.append(prefix)

    def add_turn(self, conversation: int, turn: int, context_chars: int,
                 user_message: dict[str, Any], answer: Any, tool_result: Any) -> None:  # fmt: skip
        """The next row: a turn of ``conversation`` (1-based ``turn``), the characters it sends
        with its history, and what its history is built from."""
        self.conversation_of.append(conversation)
        self.turn_of.append(turn)
        self.context_chars.append(context_chars)
        self.user_messages.append(user_message)
        self.answers.append(answer)
        self.tool_results.append(tool_result)

    def truncate(self, rows: int) -> None:
        """Forget rows from ``rows`` on (a conversation with a bad turn is skipped whole)."""
        for column in (self.conversation_of, self.turn_of, self.context_chars,
                       self.user_messages, self.answers, self.tool_results):  # fmt: skip
            del column[rows:]


def _chars(messages: Sequence[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m.get("content")
        total += len(content) if isinstance(content, str) else 0
        for call in m.get("tool_calls") or ():
            total += len(str((call.get("function") or {}).get("arguments", "")))
    return total


def _from_messages(where: str, messages: Any, cfg: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The turns of an OpenAI messages list (see the module's docstring), and its problems."""
    conv = cfg.conversations
    if not isinstance(messages, list) or not messages:
        return [], [f"{where}: field '{conv.messages}' must be a non-empty list of messages"]
    turns: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role == "user":
            turns.append({cfg.input[0]: m.get("content")})
        elif role == "assistant" and turns:
            turn = turns[-1]
            turn[conv.reference] = m.get("content")
            if cfg.expected in m:
                turn[cfg.expected] = m[cfg.expected]
        elif role == "tool" and turns:
            content = m.get("content")
            try:
                turns[-1][conv.tool_result] = json.loads(content) if isinstance(content, str) \
                    else content  # fmt: skip
            except ValueError:
                turns[-1][conv.tool_result] = content
        elif role == "system" and not turns:
            continue
        else:
            problems.append(f"{where}: message {i + 1}: role {role!r} is not expected here "
                            "(system first, then user / assistant / tool)")  # fmt: skip
    return turns, problems


def load_conversations(loaded: Any, adapter: ProtocolAdapter, loader: Any, path: Path) -> None:
    """Read a conversation dataset into ``loader``'s rows (a ``prepared._Loader``), each turn a
    row, its problems into ``loader.problems`` (one line each, naming the line and the turn);
    attach the :class:`ConversationTable` to the rows."""
    sc = loaded.scenario
    cfg = sc.dataset
    conv = cfg.conversations
    if sc.endpoint.protocol != "openai-chat":
        raise InputError(f"{loaded.path}: dataset.conversations: needs endpoint.protocol "
                         f"openai-chat (it is {sc.endpoint.protocol})")  # fmt: skip
    if getattr(adapter.options, "messages_field", None) is not None:
        raise InputError(f"{loaded.path}: dataset.conversations cannot be combined with "
                         "endpoint.options.messages_field (turns make the messages)")
    if len(cfg.input) != 1:
        raise InputError(f"{loaded.path}: dataset.input: a conversation turn sends one field "
                         f"(it names {len(cfg.input)})")  # fmt: skip
    if detect_format(path, cfg.format) != "jsonl":
        raise InputError(f"{path}: a conversation dataset is JSONL (one conversation a line)")
    table = ConversationTable(history=conv.history)
    rows = loader.rows
    rows.conversations = table
    problems: list[str] = loader.problems
    read_problems: list[str] = []
    for line, record in read_records(path, "jsonl", read_problems):
        if cfg.limit is not None and len(table) >= cfg.limit:
            break
        problems += read_problems
        read_problems.clear()
        _add_conversation(loaded, adapter, loader, table, path, line, record)
    problems += read_problems


def _turns_of(record: dict[str, Any], cfg: Any, where: str, name: str
              ) -> tuple[Any, dict[str, Any], list[dict[str, Any]], list[str]]:  # fmt: skip
    """A conversation's turns (the turns form, or read from its messages), its own fields (the
    record without them), its leading system message, and its problems."""
    conv = cfg.conversations
    prefix: list[dict[str, Any]] = []
    if conv.messages is not None:
        messages = field_value(record, conv.messages)
        if messages is MISSING:
            return [], {}, [], [f"{where}: messages field '{conv.messages}' is missing"]
        turns, problems = _from_messages(where, messages, cfg)
        if isinstance(messages, list) and messages and isinstance(messages[0], dict) \
                and messages[0].get("role") == "system":  # fmt: skip
            prefix.append({"role": "system", "content": messages[0].get("content")})
        top = {k: v for k, v in record.items() if k != conv.messages}
    else:
        turns = field_value(record, conv.turns)
        problems = []
        if turns is MISSING:
            problems.append(f"{where}: turns field '{conv.turns}' is missing")
        elif not isinstance(turns, list):
            problems.append(f"{where}: turns field '{conv.turns}' must be a list of turns")
        top = {k: v for k, v in record.items() if k != conv.turns}
    if not problems and not turns:
        problems.append(f"{where}: conversation {name!r} has no turns")
    return turns, top, prefix, problems


def _add_conversation(loaded: Any, adapter: Any, loader: Any, table: ConversationTable,
                      path: Path, line: int, record: dict[str, Any]) -> None:  # fmt: skip
    cfg = loaded.scenario.dataset
    conv = cfg.conversations
    where = f"{path}:{line}"
    raw_id = field_value(record, cfg.id or "id")
    name = str(line) if raw_id is MISSING or raw_id is None else str(raw_id)
    turns, top, prefix, problems = _turns_of(record, cfg, where, name)
    if problems:
        loader.problems += problems
        return
    rows = loader.rows
    first = len(rows)
    index = len(table)
    history: list[dict[str, Any]] = []
    before = len(loader.problems)
    for k, turn in enumerate(turns, start=1):
        at = f"{where}: turn {k}"
        if not isinstance(turn, dict):
            loader.problems.append(f"{at}: a turn must be an object (got {type(turn).__name__})")
            continue
        merged = {**top, **turn}
        count = len(rows)
        mark = len(loader.problems)
        loader.add_row(line, merged)
        # the row loader names the line; say which turn too
        loader.problems[mark:] = [p.replace(f"{where}:", f"{at}:", 1)
                                  for p in loader.problems[mark:]]  # fmt: skip
        if len(rows) == count:
            continue
        rows.set_row_id(count, f"{name}#{k}")
        user_side = adapter._messages(dict.fromkeys(cfg.input, merged.get(cfg.input[0])), merged)
        if k == 1 and not prefix:
            prefix = [m for m in user_side if m.get("role") == "system"]
        user_message = user_side[-1]
        text, expected, tool_result = (_field(turn, f) for f in (conv.reference, cfg.expected,
                                                                   conv.tool_result))
        answer = reference_answer(text, expected, k)
        messages = [*prefix, *history, user_message]
        table.add_turn(index, k, _chars(messages), user_message, answer, tool_result)
        # reference mode sends these very messages; live mode builds its own when sent (this
        # one, without history, gives the route and the stream flag)
        request = adapter.prepare_messages(messages if conv.history == "reference"
                                           else [*prefix, user_message])  # fmt: skip
        rows.set_request(len(rows) - 1, request)
        calls = isinstance(expected, dict) and isinstance(expected.get("tool_call"), dict)
        if text is None and conv.history == "reference" and k < len(turns) and not calls:
            loader.problems.append(
                f"{at}: reference field '{conv.reference}' is missing (reference mode sends it "
                "as the history of the next turn; or set dataset.conversations.history: live)"
            )
        history += [user_message, *assistant_side(answer, tool_result)]
    if len(loader.problems) > before:  # a conversation with a bad turn is skipped whole
        loader.problems[before:] = _once(loader.problems[before:], where, len(turns))
        rows.truncate(first)
        table.truncate(first)
        return
    table.add_conversation(name, first, len(rows), prefix)


def _field(turn: dict[str, Any], name: str) -> Any:
    """A turn's field, None when it has none."""
    value = field_value(turn, name)
    return None if value is MISSING else value


def _once(problems: list[str], where: str, turns: int) -> list[str]:
    """A problem every turn has (a conversation-level field such as a slice): one line for the
    conversation rather than one a turn."""
    if turns < 2:
        return problems
    bare = [re.sub(rf"^{re.escape(where)}: turn \d+:", f"{where}:", p) for p in problems]
    counts = Counter(bare)
    out: list[str] = []
    for problem, plain in zip(problems, bare, strict=True):
        if counts[plain] < turns:
            out.append(problem)
        elif plain not in out:
            out.append(plain)
    return out


def turn_keys(table: ConversationTable, texts: Sequence[str]) -> list[str]:
    """Each turn row's text after its history as the dataset writes it (the system messages,
    the earlier turns' texts, answers and tool results): the same follow-up question after two
    different histories is two different inputs, for the profile's duplicate check."""
    keys: list[str] = []
    for c in range(len(table)):
        history = json.dumps(table.prefixes[c], sort_keys=True, default=str)
        for r in table.rows_of(c):
            keys.append(f"{history}\x1e{texts[r]}")
            history += f"\x1e{texts[r]}\x1f{table.answers[r]!r}\x1f{table.tool_results[r]!r}"
    return keys


def conversation_profile_lines(dataset: Any) -> list[str]:
    """``stagecheck validate``'s profile of a conversation dataset: turns per conversation,
    the context sent by turn position (characters, as the dataset writes the history), and
    conversations per slice value."""
    table: ConversationTable | None = dataset.conversations
    if table is None or not len(table):
        return []
    per_length: dict[int, int] = {}
    for n in table.turns_per_conversation():
        per_length[n] = per_length.get(n, 0) + 1
    lines = [
        f"  turns      {len(table)} conversations ({table.history} history), "
        f"{len(dataset.rows)} turns; turns per conversation: "
        + ", ".join(f"{n} × {count}" for n, count in sorted(per_length.items()))
    ]
    by_turn: dict[int, list[int]] = {}
    for turn, chars in zip(table.turn_of, table.context_chars, strict=True):
        by_turn.setdefault(turn, []).append(chars)
    cells = []
    for turn, values in sorted(by_turn.items()):
        values.sort()
        cells.append(f"turn {turn} median {values[len(values) // 2]} (max {values[-1]})")
    lines.append("  context    chars sent by turn: " + " · ".join(cells[:8])
                 + (f" · … {len(cells) - 8} more" if len(cells) > 8 else ""))  # fmt: skip
    rows = dataset.rows
    for i, name in enumerate(dataset.slice_fields):
        counts: dict[str, int] = {}
        for start in table.starts:
            value = rows.slices[start][i]
            counts[value] = counts.get(value, 0) + 1
        shown = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append(f"  convs by   {name}: " + ", ".join(f"{v} {n}" for v, n in shown[:8])
                     + (f" (+{len(shown) - 8})" if len(shown) > 8 else ""))  # fmt: skip
    return lines
