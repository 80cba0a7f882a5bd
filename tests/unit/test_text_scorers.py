"""Free-text scorers: similarity (ROUGE-L against the reference package), phrases, json-schema,
and the LLM judge against a loopback judge (its scale, timeout and malformed answers), plus bad
options through scenario validation (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stagecheck.scoring import JudgeFailed, Scorer, UnparseableAnswer, build_scorer
from stagecheck.scoring.freetext import rouge_l
from tests.judge_server import rule, running_judge
from tests.support import REPO

pytestmark = pytest.mark.unit


def grade(scorer: Scorer, answer: Any, reference: Any, record: dict[str, Any] | None = None,
          question: str = "q") -> tuple[bool, str | None, float | None, int]:  # fmt: skip
    return scorer.grade(answer, scorer.prepare_row(reference, record or {}, question))


REFUND = "Refunds are accepted within 30 days of delivery."

# --- similarity ---


def test_rouge_l_known_example() -> None:
    # LCS of "the cat sat on the mat" / "the cat is on the mat" = the cat on the mat (5 of 6)
    assert rouge_l("the cat sat on the mat", "The cat is on the mat!") == pytest.approx(5 / 6)
    assert rouge_l("", "x") == 0.0 and rouge_l("a b", "c d") == 0.0


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("You can get a refund within 30 days after delivery.", REFUND),
        ("police killed the gunman", "the gunman kill police"),
        ("A B C D E F G", "G F E D C B A"),
        ("Standard shipping: 3-5 business days; express 1-2.", "Shipping takes 3 to 5 days."),
    ],
)
def test_rouge_l_matches_the_reference_implementation(prediction: str, reference: str) -> None:
    rouge_scorer = pytest.importorskip(
        "rouge_score.rouge_scorer", reason="rouge-score (the ROUGE-L oracle) is not installed"
    )
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(reference, prediction)["rougeL"]
    assert rouge_l(prediction, reference) == pytest.approx(expected.fmeasure)


def test_similarity_methods_and_threshold() -> None:
    exact = build_scorer({"kind": "similarity", "method": "exact-normalised", "threshold": 1})
    assert grade(exact, "  refunds ARE accepted within 30 days of delivery ", REFUND) == (
        True, None, 1.0, 0)  # fmt: skip
    assert grade(exact, "Refunds are accepted within 31 days of delivery.", REFUND)[:3] == (
        False, None, 0.0)  # fmt: skip
    token_set = build_scorer({"kind": "similarity", "method": "token-set", "threshold": 0.9})
    assert grade(token_set, "delivery of within 30 days accepted are refunds", REFUND)[2] == 1.0
    fuzzy = build_scorer({"kind": "similarity", "method": "fuzzy", "threshold": 0.9})
    ok, _, value, _ = grade(fuzzy, "Refund are accepted within 30 day of delivery", REFUND)
    assert ok and 0.9 <= value < 1
    ok, _, value, _ = grade(fuzzy, "Call us.", REFUND)
    assert not ok and value < 0.5
    # pass when score >= threshold, exactly at the boundary too
    rouge = build_scorer({"kind": "similarity", "method": "rouge-l", "threshold": 0.5})
    value = rouge_l("refunds are fine", REFUND)
    at = build_scorer({"kind": "similarity", "method": "rouge-l", "threshold": round(value, 4)})
    assert grade(at, "refunds are fine", REFUND)[0]
    assert grade(rouge, "refunds are fine", REFUND) == (False, None, round(value, 4), 0)
    assert grade(rouge, "", REFUND) == (False, None, 0.0, 0)  # an empty answer is wrong


def test_similarity_bad_options_and_references() -> None:
    for bad in ({"method": "bleu"}, {"threshold": 0}, {"threshold": 1.5}, {"cutoff": 1}):
        with pytest.raises(ValidationError):
            build_scorer({"kind": "similarity", **bad})
    s = build_scorer({"kind": "similarity"})
    with pytest.raises(ValueError, match="no words"):
        s.prepare_row("  ?! ", {}, "q")


# --- phrases ---

EMAIL = r"[\w.+-]+@[\w-]+\.[\w.]+"


def test_phrases_required_and_forbidden() -> None:
    s = build_scorer({"kind": "phrases", "must_include": ["30 days"],
                      "must_not_include": [EMAIL], "regex": True})  # fmt: skip
    assert grade(s, "Refunds within 30 DAYS.", REFUND) == (True, None, 1.0, 0)
    assert grade(s, "Refunds within a month.", REFUND) == (False, None, 0.5, 0)
    assert grade(s, "Sure jane@example.com, within 30 days.", REFUND) == (False, None, 0.5, 0)
    assert grade(s, "jane@example.com: soon", REFUND) == (False, None, 0.0, 0)
    plain = build_scorer({"kind": "phrases", "must_include": ["a.b"], "case_sensitive": True})
    assert grade(plain, "a.b", "x")[0] and not grade(plain, "axb", "x")[0]  # literal, not regex
    assert not grade(plain, "A.B", "x")[0]


def test_phrases_of_the_row() -> None:
    s = build_scorer({"kind": "phrases", "row_field": "must_include", "must_include": ["refund"]})
    record = {"must_include": ["30 days", "original payment"]}
    full = "A refund within 30 days to the original payment method."
    assert grade(s, full, REFUND, record)[:3] == (True, None, 1.0)
    assert grade(s, "A refund within 30 days.", REFUND, record)[2] == pytest.approx(0.6667)
    assert grade(s, "A refund.", REFUND, {})[0]  # no phrases of its own: the scenario's
    assert grade(s, "A refund in 30 days.", REFUND, {"must_include": "30 days"})[0]
    with pytest.raises(ValueError, match="must be a phrase or a list"):
        s.prepare_row(REFUND, {"must_include": [1]}, "q")
    only_row = build_scorer({"kind": "phrases", "row_field": "must_include"})
    with pytest.raises(ValueError, match="is empty"):
        only_row.prepare_row(REFUND, {"must_include": []}, "q")


def test_phrases_bad_options() -> None:
    for bad in ({}, {"must_include": [""]}, {"must_include": ["(x"], "regex": True}):
        with pytest.raises(ValidationError):
            build_scorer({"kind": "phrases", **bad})


# --- json-schema ---

SCHEMA = {"type": "object", "required": ["intent", "confidence"],
          "properties": {"intent": {"type": "string"},
                         "confidence": {"type": "number", "minimum": 0, "maximum": 1}}}  # fmt: skip


def test_json_schema_validation_and_field() -> None:
    s = build_scorer({"kind": "json-schema", "schema": SCHEMA, "field": "intent"})
    fenced = 'Here you go:\n```json\n{"intent": "Refund", "confidence": 0.9}\n```\n'
    assert grade(s, fenced, "refund") == (True, None, 1.0, 0)
    assert grade(s, '{"intent": "shipping", "confidence": 0.9}', "refund")[:3] == (False, None, 0.0)
    assert grade(s, '{"intent": "refund", "confidence": 2}', "refund")[:3] == (False, None, 0.0)
    assert grade(s, 'Sure! {"intent": "refund", "confidence": 1} Hope it helps', "refund")[0]
    assert grade(s, {"intent": "refund", "confidence": 1}, "refund")[0]  # already parsed
    with pytest.raises(UnparseableAnswer, match="not JSON"):
        grade(s, "It is a refund.", "refund")
    with pytest.raises(UnparseableAnswer, match="json block"):
        grade(s, "```json\n{intent: refund}\n```", "refund")
    no_field = build_scorer({"kind": "json-schema", "schema": SCHEMA})
    assert grade(no_field, '{"intent": "x", "confidence": 0}', "anything")[0]


def test_json_schema_file_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "answer.schema.json").write_text(json.dumps(SCHEMA))
    s = build_scorer({"kind": "json-schema", "schema_file": "answer.schema.json"}, tmp_path)
    assert grade(s, '{"intent": "x", "confidence": 0.5}', "x")[0]
    with pytest.raises(ValidationError, match="cannot read"):
        build_scorer({"kind": "json-schema", "schema_file": "missing.json"}, tmp_path)
    for bad in ({}, {"schema": SCHEMA, "schema_file": "answer.schema.json"},
                {"schema": {"type": "strange"}}):  # fmt: skip
        with pytest.raises(ValidationError):
            build_scorer({"kind": "json-schema", **bad}, tmp_path)


# --- judge ---


def _judge(url: str, **options: Any) -> Scorer:
    judge = {"url": url, "model": "grader", **options.pop("judge", {})}
    return build_scorer({"kind": "judge", "judge": judge, **options})


def test_judge_scores_by_the_loopback_rule() -> None:
    answer = "You can get a refund within 30 days of the delivery date."
    with running_judge() as judge:
        s = _judge(judge.url, threshold=0.6, judge={"headers": {"Authorization": "Bearer k-1"}})
        ok, label, value, judge_us = grade(s, answer, REFUND, question="Can I get a refund?")
        assert (ok, label, value) == (value >= 0.6, None, rule(REFUND, answer)) and value > 0
        assert judge_us > 0
        sent = judge.bodies[-1]
        assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k-1"
        prompt = sent["body"]["messages"][-1]["content"]
        assert "Can I get a refund?" in prompt and REFUND in prompt and answer in prompt
        assert sent["body"]["model"] == "grader" and sent["body"]["temperature"] == 0
        assert not grade(s, "Call us.", REFUND)[0]
        assert judge.calls == 2
    with running_judge(scale="1-5") as judge:
        s = _judge(judge.url + "/judge/v1/chat", judge={"scale": "1-5"})
        assert grade(s, answer, REFUND)[2] == pytest.approx(rule(REFUND, answer))
        assert judge.bodies[-1]["path"] == "/judge/v1/chat"  # a route in the URL is used as is


def test_judge_timeout_is_its_own() -> None:
    with running_judge(delay_s=2.0) as judge:
        s = _judge(judge.url, judge={"timeout": "300ms"})
        t0 = time.perf_counter()
        with pytest.raises(JudgeFailed, match=r"^judge: no verdict within 0.3 s") as info:
            grade(s, "x", REFUND)
        assert time.perf_counter() - t0 < 1.5
        assert info.value.cause == "judge"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("prose", 'without a JSON {"score"'),
        ("http-500", "HTTP 500"),
        ("out-of-range", "outside 0..1"),
    ],
)
def test_judge_failures_are_the_judges(mode: str, message: str) -> None:
    with running_judge(mode=mode) as judge:
        s = _judge(judge.url)
        with pytest.raises(JudgeFailed, match="^judge: ") as info:
            grade(s, "x", REFUND)
        assert message in str(info.value)


def test_judge_unreachable() -> None:
    with running_judge() as judge:
        url = judge.url
    with pytest.raises(JudgeFailed, match="^judge: "):
        grade(_judge(url, judge={"timeout": 2}), "x", REFUND)


def test_judge_bad_options() -> None:
    for bad in ({"judge": {"url": "judge:8000", "model": "m"}}, {"judge": {"url": "http://j"}},
                {"judge": {"url": "http://j", "model": "m", "timeout": 0}},
                {"judge": {"url": "http://j", "model": "m", "scale": "1-10"}},
                {"judge": {"url": "http://j", "model": "m"}, "threshold": 2}):  # fmt: skip
        with pytest.raises(ValidationError):
            build_scorer({"kind": "judge", **bad})


# --- through scenario validation: one line per problem, exit 2 ---


@pytest.mark.parametrize(
    ("scoring", "says"),
    [
        ("{kind: similarity, method: bleu}", "scoring.method"),
        ("{kind: phrases, regex: true, must_include: ['(30 days']}", "not a valid regular"),
        ("{kind: json-schema, schema_file: nowhere.json}", "cannot read"),
        ("{kind: judge, judge: {url: 'http://j', model: m, timeout: -1}}", "scoring.judge.timeout"),
    ],
)
def test_bad_scoring_options_are_one_line_exit_2(tmp_path: Path, scoring: str, says: str) -> None:
    scenario = (REPO / "scenarios" / "chatbot.yaml").read_text()
    scenario = scenario.replace("path: data/", f"path: {REPO}/scenarios/data/")
    head, _, rest = scenario.partition("scoring:\n")
    rest = rest.split("\nload:", 1)[1]
    path = tmp_path / "s.yaml"
    path.write_text(f"{head}scoring: {scoring}\nload:{rest}")
    proc = subprocess.run([sys.executable, "-m", "stagecheck.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr, lines


# --- results.jsonl: the per-row score and the judge's time, kept small ---


def test_results_lines_carry_score_and_judge_ms_only_when_set(tmp_path: Path) -> None:
    from stagecheck.recording import CORRECT, INCORRECT, Aggregate, Recorder
    from tests.unit.test_recording import NO_SLICE_ROWS

    rec = Recorder()
    rec.record(row_index=0, outcome=CORRECT, latency_us=900, started=1.0, got="a")
    rec.record(row_index=0, outcome=INCORRECT, latency_us=800, started=1.0, got="b", score=0.25)
    rec.record(row_index=0, outcome=CORRECT, latency_us=700, started=1.0, got="c", score=0.9,
               judge_us=123_456)  # fmt: skip
    agg = Aggregate(NO_SLICE_ROWS, (), tmp_path, started=0.0)  # type: ignore[arg-type]
    agg.merge(rec.drain())
    agg.close()
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert ["score" in x for x in lines] == [False, True, True]
    assert [x.get("score") for x in lines] == [None, 0.25, 0.9]
    assert [x.get("judge_ms") for x in lines] == [None, None, 123.456]
    assert [x["latency_us"] for x in lines] == [900, 800, 700]  # the judge's time is apart
    h = agg.histogram("e2e")
    assert h is not None and h.get_max_value() < 1000
