"""``kind: tool-call`` — OpenAI tool calling: did the model call the expected tool with the
expected arguments, or rightly call none?

A row's expected value is ``{"tool_call": {"name": …, "arguments": {…}}}`` (that call is
expected) or ``{"tool_call": null}`` (no call is expected: the model must answer in text). Any
other expected value is scored by the nested ``text`` scorer against the answer's text (a
conversation's turns that expect words, not a call).

The arguments are compared as JSON, each by its rule in ``arguments`` (``exact`` by default;
``{tolerance: x}`` numbers within x; ``any`` present with any value; ``contains`` text that
contains the expected text, case-insensitively). An argument the expected call does not name is
wrong (``extra_arguments: wrong``, the default: a tool given an argument it did not ask for may
act on it) or ignored (``extra_arguments: ignore``).

A wrong answer's reason is its predicted label (``results.jsonl``'s ``predicted``, the error
analysis' wrong answers), from a short fixed set so that they can be counted: ``no call``,
``unexpected call: NAME``, ``several calls``, ``wrong tool: NAME``, ``unparseable arguments``,
``missing argument: ARG``, ``wrong argument: ARG``, ``extra argument: ARG``. The answer itself
(the call with its arguments) is the wrong answer's ``got``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from stagecheck.protocols.openai_tools import ChatAnswer
from stagecheck.scoring.scorers import Graded, Scorer, ScorerOptions

__all__ = [
    "ToolCallOptions",
    "ToolCallScorer",
    "ExpectedCall",
    "ExpectedText",
    "REASON_KINDS",
    "reason_kind",
    "is_tool_row",
]

_NAME_CHARS = 40  # of a model-chosen name in a reason (the reasons stay few and short)

#: The reasons a tool-call answer is wrong, as their label starts.
REASON_KINDS = (
    "no call",
    "unexpected call",
    "several calls",
    "wrong tool",
    "unparseable arguments",
    "missing argument",
    "wrong argument",
    "extra argument",
)


def reason_kind(label: str) -> str | None:
    """The kind of a tool-call reason (``wrong argument: x`` -> ``wrong argument``), None for
    a label that is not one."""
    kind = label.partition(":")[0]
    return kind if kind in REASON_KINDS else None


class Tolerance(ScorerOptions):
    """A number within ``tolerance`` of the expected one."""

    tolerance: float = Field(ge=0, allow_inf_nan=False)


ArgumentRule = Literal["exact", "any", "contains"] | Tolerance


class ToolCallOptions(ScorerOptions):
    """``kind: tool-call`` — the expected tool call (or none), arguments compared by rule;
    other turns by the ``text`` scorer."""

    kind: Literal["tool-call"] = "tool-call"
    arguments: dict[str, ArgumentRule] = Field(
        default_factory=dict,
        description="Per argument name: exact (default) | any | contains | {tolerance: x}",
    )
    extra_arguments: Literal["wrong", "ignore"] = Field(
        "wrong", description="An argument the expected call does not name"
    )
    text: dict[str, Any] | None = Field(
        None, description="The scorer of rows whose expected value is not a tool call"
    )

    @field_validator("text")
    @classmethod
    def _text(cls, v: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if v is None:
            return v
        if v.get("kind") == "tool-call":
            raise ValueError("the text scorer cannot be tool-call itself")
        from stagecheck.scoring import build_scorer

        base = (info.context or {}).get("base_dir")
        scorer = build_scorer(v, base)  # ValidationError: located under scoring.text
        # files resolved against the scenario's folder: the scorer is rebuilt from this
        return scorer.options.model_dump(by_alias=True, exclude_unset=True) | {"kind": v["kind"]}


@dataclass(frozen=True, slots=True)
class ExpectedCall:
    """A row that expects a call (``name``, ``arguments``) or, with ``name`` None, none."""

    name: str | None
    arguments: Mapping[str, Any]

    def __str__(self) -> str:
        if self.name is None:
            return "(no tool call)"
        return f"{self.name}({json.dumps(dict(self.arguments), ensure_ascii=False)})"


@dataclass(frozen=True, slots=True)
class ExpectedText:
    """A row whose expected value the ``text`` scorer reads."""

    inner: Any

    def __str__(self) -> str:
        return str(self.inner)


def is_tool_row(expected: Any) -> bool:
    """The row is scored on its tool call (a call, or rightly none), not on its text."""
    return type(expected) is ExpectedCall


def _expected_call(raw: Any) -> ExpectedCall:
    if raw is None:
        return ExpectedCall(None, {})
    if not isinstance(raw, Mapping):
        raise ValueError("tool_call must be null or {name, arguments}")
    unknown = sorted(set(raw) - {"name", "arguments"})
    if unknown:
        raise ValueError(f"tool_call has unknown keys {unknown} (name and arguments only)")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("tool_call needs a name (text)")
    arguments = raw.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise ValueError("tool_call.arguments is text that is not JSON") from None
    if not isinstance(arguments, Mapping):
        raise ValueError("tool_call.arguments must be an object")
    return ExpectedCall(name, dict(arguments))


def _same(got: Any, want: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return got == want
    if isinstance(want, Mapping):
        return (
            isinstance(got, Mapping)
            and got.keys() == want.keys()
            and all(_same(got[k], want[k]) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_same(g, w) for g, w in zip(got, want, strict=True))
        )
    return type(got) is type(want) and got == want


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class ToolCallScorer(Scorer):
    """Tool calls against the expected call, argument by argument; other rows by ``text``."""

    kind: ClassVar[str] = "tool-call"
    Options: ClassVar[type[ToolCallOptions]] = ToolCallOptions
    memoize: ClassVar[bool] = False  # answers are ChatAnswer values; a nested judge must see all
    options: ToolCallOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        from stagecheck.scoring import build_scorer

        text = self.options.text
        self.text_scorer: Scorer | None = None if text is None else build_scorer(text)

    def _text(self) -> Scorer:
        if self.text_scorer is None:
            raise ValueError(
                'not a tool call ({"tool_call": {...}} or {"tool_call": null}), and '
                "scoring.text (the scorer of such rows) is not set"
            )
        return self.text_scorer

    def prepare_expected(self, raw: Any) -> ExpectedCall | ExpectedText:
        if isinstance(raw, Mapping) and "tool_call" in raw:
            if len(raw) != 1:
                raise ValueError("an expected tool call is {\"tool_call\": …} and nothing else")
            return _expected_call(raw["tool_call"])
        return ExpectedText(self._text().prepare_expected(raw))

    def prepare_row(self, raw: Any, record: Mapping[str, Any], question: str) -> Any:
        if isinstance(raw, Mapping) and "tool_call" in raw:
            return self.prepare_expected(raw)
        return ExpectedText(self._text().prepare_row(raw, record, question))

    def grade(self, prediction: Any, expected: Any) -> Graded:
        if type(expected) is ExpectedText:
            text = prediction.text if type(prediction) is ChatAnswer else prediction
            return self._text().grade(text, expected.inner)
        answer = prediction if type(prediction) is ChatAnswer else ChatAnswer(str(prediction))
        reason = self.reason(answer, expected)
        return reason is None, reason, None, 0

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        return self.grade(prediction, expected)[:2]

    def reason(self, answer: ChatAnswer, want: ExpectedCall) -> str | None:
        """Why ``answer`` is wrong (its label), None when it is right."""
        calls = answer.tool_calls
        if want.name is None:
            return f"unexpected call: {calls[0].name[:_NAME_CHARS]}" if calls else None
        if not calls:
            return "no call"
        if len(calls) > 1:
            return "several calls"
        call = calls[0]
        if call.name != want.name:
            return f"wrong tool: {call.name[:_NAME_CHARS]}"
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            return "unparseable arguments"
        if not isinstance(args, dict):
            return "unparseable arguments"
        rules = self.options.arguments
        for name, value in want.arguments.items():
            if name not in args:
                return f"missing argument: {name}"
            if not self._matches(rules.get(name, "exact"), args[name], value):
                return f"wrong argument: {name}"
        if self.options.extra_arguments == "wrong":
            for name in args:
                if name not in want.arguments:
                    return f"extra argument: {name[:_NAME_CHARS]}"
        return None

    @staticmethod
    def _matches(rule: ArgumentRule, got: Any, want: Any) -> bool:
        if rule == "any":
            return True
        if rule == "exact":
            return _same(got, want)
        if rule == "contains":
            return isinstance(got, str) and str(want).lower() in got.lower()
        assert isinstance(rule, Tolerance)
        g, w = _number(got), _number(want)
        return g is not None and w is not None and math.isfinite(g) and abs(g - w) <= rule.tolerance
