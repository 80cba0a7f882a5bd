"""Scorers: every kind, the normalisation table, ints vs strings, the registry's messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from stagecheck.protocols import ResponseParseError
from stagecheck.scoring import (
    UNPARSEABLE_LABEL,
    Scorer,
    ScoringOptions,
    UnparseableAnswer,
    available_scorers,
    build_scorer,
    get_scorer_class,
)
from stagecheck.scoring.text import label_text, make_normalizer, snake_case

pytestmark = pytest.mark.unit

KINDS = [
    "contains", "exact", "json-field", "json-schema", "judge", "label", "numeric", "phrases",
    "regex", "similarity", "tool-call",
]


def score(scorer: Scorer, prediction: Any, expected_raw: Any) -> tuple[bool, str | None]:
    return scorer.score(prediction, scorer.prepare_expected(expected_raw))


# --- registry ---


def test_registry() -> None:
    assert available_scorers() == KINDS
    with pytest.raises(ValueError) as info:
        get_scorer_class("fuzzy")
    assert str(info.value) == (
        "Scorer kind 'fuzzy' is not registered. Available kinds: "
        f"{KINDS}"
    )
    with pytest.raises(ValueError, match="kind is required"):
        build_scorer({})
    with pytest.raises(ValueError, match="Scorer kind 'fuzzy' is not registered"):
        build_scorer({"kind": "fuzzy"})


@pytest.mark.parametrize("kind", KINDS)
def test_every_scorer_is_consistent(kind: str) -> None:
    cls = get_scorer_class(kind)
    assert cls.kind == kind
    assert issubclass(cls.Options, BaseModel)
    assert cls.Options.model_config.get("extra") == "forbid"
    assert cls.classification is (kind == "label")
    with pytest.raises(ValidationError) as info:
        build_scorer({"kind": kind, "field": "x", "typo_option": 1})
    assert ("typo_option",) in [tuple(e["loc"]) for e in info.value.errors()]


def test_scoring_options_union_discriminates_on_kind() -> None:
    from pydantic import TypeAdapter

    ta: TypeAdapter[Any] = TypeAdapter(ScoringOptions)
    assert type(ta.validate_python({"kind": "numeric", "abs_tol": 0.1})).__name__ == (
        "NumericOptions"
    )
    assert "oneOf" in ta.json_schema() or "discriminator" in str(ta.json_schema())


def test_unparseable_is_a_response_parse_error() -> None:
    assert issubclass(UnparseableAnswer, ResponseParseError)
    assert UNPARSEABLE_LABEL == "(unparseable)"


# --- text helpers ---


@pytest.mark.parametrize(
    ("steps", "text", "expected"),
    [
        ([], "  Refund. ", "  Refund. "),
        (["lower"], "ReFund", "refund"),
        (["strip"], "  refund \n", "refund"),
        (["collapse_whitespace"], " wrong \t  item\n", "wrong item"),
        (["strip_punctuation"], '"Refund."', "Refund"),
        (["strip_punctuation"], "**refund**", "refund"),
        (["strip_punctuation"], "« refund »", "refund"),
        (["strip_punctuation"], "payment_issue", "payment_issue"),  # inner kept
        (["strip_punctuation"], "_private_", "private"),
        (["snake_case"], "Payment Issue", "payment_issue"),
        (["snake_case"], "payment-issue", "payment_issue"),
        (["snake_case"], "PaymentIssue", "payment_issue"),
        (["snake_case"], " order  status?! ", "order_status"),
        (["snake_case"], "café crème", "café_crème"),
        (["lower", "strip", "collapse_whitespace", "strip_punctuation"], "  Refund. \n", "refund"),
        (
            ["lower", "strip", "collapse_whitespace", "strip_punctuation"],
            "Wrong   Item!",
            "wrong item",
        ),
    ],
)
def test_normalisation_table(steps: list[str], text: str, expected: str) -> None:
    assert make_normalizer(steps)(text) == expected


def test_snake_case_idempotent() -> None:
    for text in ["Payment Issue", "a--b", "ABC", "x1Y2"]:
        assert snake_case(snake_case(text)) == snake_case(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1", "1"),
        (1, "1"),
        (1.0, "1"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (np.int64(2), "2"),
        (np.float64(2.0), "2"),
        (np.bool_(True), "true"),
        (float("inf"), "inf"),
    ],
)
def test_label_text(value: Any, text: str) -> None:
    assert label_text(value) == text


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, object()])
def test_label_text_rejects_non_scalars(value: Any) -> None:
    with pytest.raises(TypeError):
        label_text(value)


# --- label ---


@pytest.mark.parametrize(
    ("prediction", "expected", "correct", "label"),
    [
        ("refund", "refund", True, "refund"),
        ("  Refund.\n", "refund", True, "refund"),
        ("REFUND", "Refund", True, "refund"),
        ("billing", "refund", False, "billing"),
        ("wrong   item", "Wrong item", True, "wrong item"),
        (1, "1", True, "1"),
        ("1", 1, True, "1"),
        (1.0, "1", True, "1"),
        ("1", 1.0, True, "1"),
        (True, "true", True, "true"),
        ("False", False, True, "false"),
        (2, 1, False, "2"),
    ],
)
def test_label_default(prediction: Any, expected: Any, correct: bool, label: str) -> None:
    assert score(build_scorer({"kind": "label"}), prediction, expected) == (correct, label)


@pytest.mark.parametrize("prediction", [["refund"], {"label": "refund"}, None, ""])
def test_label_unparseable_answers(prediction: Any) -> None:
    with pytest.raises(UnparseableAnswer):
        score(build_scorer({"kind": "label"}), prediction, "refund")


def test_label_expected_validation() -> None:
    s = build_scorer({"kind": "label", "labels": ["Refund", "Billing"]})
    assert s.prepare_expected(" refund ") == "refund"
    with pytest.raises(ValueError, match="'shipping' is not one of scoring.labels"):
        s.prepare_expected("shipping")
    with pytest.raises(ValueError, match="empty"):
        s.prepare_expected(" . ")
    with pytest.raises(ValueError, match="must be a string or a number"):
        s.prepare_expected(["refund"])
    # an off-list prediction is an answer (wrong), not unparseable
    assert s.score("shipping", "refund") == (False, "shipping")


def test_label_aliases_apply_to_both_sides() -> None:
    s = build_scorer({"kind": "label", "aliases": {"Money Back": "Refund", "invoice": "billing"}})
    assert score(s, "money back", "refund") == (True, "refund")
    assert score(s, "Refund", "Money back") == (True, "refund")
    assert score(s, "Invoice.", "billing") == (True, "billing")


def test_label_snake_case() -> None:
    s = build_scorer({"kind": "label", "normalize": ["strip", "snake_case"]})
    assert score(s, "Payment Issue", "payment_issue") == (True, "payment_issue")
    assert score(s, "PaymentIssue", "payment-issue") == (True, "payment_issue")


def test_label_first_word() -> None:
    s = build_scorer({"kind": "label", "extract": "first-word"})
    assert score(s, "Refund. The customer wants money back.", "refund") == (True, "refund")
    assert score(s, "**billing** because", "refund") == (False, "billing")
    with pytest.raises(UnparseableAnswer, match="empty answer"):
        score(s, "   ", "refund")


def test_label_regex() -> None:
    s = build_scorer({"kind": "label", "extract": "regex", "pattern": r"(?i)label:\s*(\w+)"})
    assert score(s, "Reasoning... LABEL: Refund", "refund") == (True, "refund")
    with pytest.raises(UnparseableAnswer, match="does not match"):
        score(s, "I think refund", "refund")
    whole = build_scorer({"kind": "label", "extract": "regex", "pattern": r"refund|billing"})
    assert score(whole, "it is billing.", "billing") == (True, "billing")
    optional = build_scorer({"kind": "label", "extract": "regex", "pattern": r"x(\d)?"})
    with pytest.raises(UnparseableAnswer, match="empty label"):
        score(optional, "x", "1")


def test_label_contains_label() -> None:
    s = build_scorer(
        {
            "kind": "label",
            "extract": "contains-label",
            "labels": ["refund", "billing", "payment", "payment issue"],
            "aliases": {"money back": "refund"},
        }
    )
    assert score(s, "The answer is: Billing.", "billing") == (True, "billing")
    assert score(s, "Refund, not billing", "billing") == (False, "refund")  # earliest wins
    assert score(s, "a Payment Issue", "payment issue") == (True, "payment issue")  # longest
    assert score(s, "they want their money back", "refund") == (True, "refund")  # alias
    with pytest.raises(UnparseableAnswer, match="none of scoring.labels"):
        score(s, "nonrefundable shipping", "refund")  # whole words only


def test_label_options_validation() -> None:
    with pytest.raises(ValidationError, match="extract: regex needs a pattern"):
        build_scorer({"kind": "label", "extract": "regex"})
    with pytest.raises(ValidationError, match="only used with extract: regex"):
        build_scorer({"kind": "label", "pattern": "x"})
    with pytest.raises(ValidationError, match="contains-label needs labels"):
        build_scorer({"kind": "label", "extract": "contains-label"})
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        build_scorer({"kind": "label", "extract": "regex", "pattern": "("})
    with pytest.raises(ValidationError) as info:
        build_scorer({"kind": "label", "normalize": ["upper"]})
    assert info.value.errors()[0]["loc"] == ("normalize", 0)


# --- exact / contains / regex ---


def test_exact() -> None:
    s = build_scorer({"kind": "exact"})
    assert score(s, "Paris", "Paris") == (True, None)
    assert score(s, "paris", "Paris") == (False, None)
    assert score(s, 42, "42") == (True, None)
    n = build_scorer({"kind": "exact", "normalize": ["lower", "strip"]})
    assert score(n, " PARIS ", "paris") == (True, None)
    with pytest.raises(UnparseableAnswer):
        score(s, ["Paris"], "Paris")


def test_contains() -> None:
    s = build_scorer({"kind": "contains"})
    assert score(s, "The capital is PARIS.", "Paris") == (True, None)
    assert score(s, "Lyon", "Paris") == (False, None)
    cs = build_scorer({"kind": "contains", "case_sensitive": True})
    assert score(cs, "The capital is PARIS.", "Paris") == (False, None)
    with pytest.raises(ValueError, match="empty"):
        s.prepare_expected("")


def test_regex() -> None:
    s = build_scorer({"kind": "regex"})
    expected = s.prepare_expected(r"\b4(\.0)?\b")
    assert str(expected) == r"\b4(\.0)?\b"
    assert s.score("The answer is 4.0", expected) == (True, None)
    assert s.score("The answer is 44", expected) == (False, None)
    full = build_scorer({"kind": "regex", "fullmatch": True, "ignore_case": True})
    e = full.prepare_expected("yes|y")
    assert full.score("YES", e) == (True, None)
    assert full.score("yes sir", e) == (False, None)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        s.prepare_expected("(")
    with pytest.raises(ValueError, match="must be a regular expression"):
        s.prepare_expected(4)


# --- json-field ---


def test_json_field() -> None:
    s = build_scorer({"kind": "json-field", "field": "intent"})
    assert score(s, '{"intent": "Refund", "confidence": 0.9}', "refund") == (True, None)
    assert score(s, {"intent": "billing"}, "refund") == (False, None)
    assert score(s, 'Sure! ```json\n{"intent": "refund"}\n```', "refund") == (True, None)
    nested = build_scorer({"kind": "json-field", "field": "result.labels[0]"})
    assert score(nested, {"result": {"labels": [3]}}, "3") == (True, None)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ("not json at all", "answer is not JSON"),
        ("{broken", "answer is not JSON"),
        ('"just a string"', "not a JSON object"),
        (5, "not a JSON object"),
        ({"other": 1}, "no intent in answer"),
        ({"intent": ["a"]}, "not a single value"),
    ],
)
def test_json_field_unparseable(answer: Any, fragment: str) -> None:
    s = build_scorer({"kind": "json-field", "field": "intent"})
    with pytest.raises(UnparseableAnswer, match=fragment):
        score(s, answer, "refund")


def test_json_field_needs_a_valid_field() -> None:
    with pytest.raises(ValidationError):
        build_scorer({"kind": "json-field"})
    with pytest.raises(ValidationError, match="empty segment"):
        build_scorer({"kind": "json-field", "field": "a..b"})


# --- numeric ---


@pytest.mark.parametrize(
    ("options", "prediction", "expected", "correct"),
    [
        ({}, 4, 4, True),
        ({}, "4.0", "4", True),
        ({}, " 4 ", 4.0, True),
        ({}, 0.1 + 0.2, 0.3, True),
        ({}, 4.01, 4, False),
        ({"abs_tol": 0.05}, 4.04, 4, True),
        ({"abs_tol": 0.05}, 4.06, 4, False),
        ({"rel_tol": 0.01}, 101, 100, True),
        ({"rel_tol": 0.01}, 102, 100, False),
        ({}, "1e3", 1000, True),
    ],
)
def test_numeric(options: dict[str, Any], prediction: Any, expected: Any, correct: bool) -> None:
    s = build_scorer({"kind": "numeric", **options})
    assert score(s, prediction, expected) == (correct, None)


@pytest.mark.parametrize("prediction", ["four", "", "nan", True, None, [4], {"v": 4}])
def test_numeric_unparseable(prediction: Any) -> None:
    s = build_scorer({"kind": "numeric"})
    with pytest.raises(UnparseableAnswer):
        score(s, prediction, 4)


@pytest.mark.parametrize("raw", ["four", True, None, float("nan"), [1]])
def test_numeric_bad_expected(raw: Any) -> None:
    with pytest.raises(ValueError):
        build_scorer({"kind": "numeric"}).prepare_expected(raw)


def test_numeric_options_validation() -> None:
    with pytest.raises(ValidationError):
        build_scorer({"kind": "numeric", "abs_tol": -1})
