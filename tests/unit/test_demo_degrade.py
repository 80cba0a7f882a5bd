"""The demo endpoint's ``--degrade`` knob: a worse model on chosen intents or slices, the same
rows hit in every run (so two exact passes of the degraded model agree row for row)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stagecheck.demo.app import DemoApp, create_app
from stagecheck.demo.config import DemoConfig
from stagecheck.demo.degrade import Degrader, parse_rule
from stagecheck.demo.model import IntentClassifier, load_default
from stagecheck.demo.server import main
from tests.support import SCENARIOS, demo_predict

pytestmark = pytest.mark.unit

DATASET = SCENARIOS / "data" / "support_intents.jsonl"
FAST = dict(latency_ms=0, jitter_ms=0, slowdown_ms_per_request=0, token_delay_ms=0,
            complex_extra_ms=0)  # fmt: skip


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return load_default()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines()]


def predict(app: DemoApp, text: str) -> str:
    return demo_predict(app, text)


def test_rules_parse_and_bad_rules_say_why() -> None:
    assert str(parse_rule("intent=refund:0.5")) == "intent=refund:0.5"
    rule = parse_rule("slice:channel=email:0.4")
    assert (rule.field, rule.value, rule.fraction) == ("channel", "email", 0.4)
    for bad, message in [("refund:0.5", "is not"), ("intent=refund:1.5", "between 0 and 1"),
                         ("slice:channel=email:x", "between 0 and 1")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_rule(bad)


def test_only_the_chosen_slice_gets_worse(
    classifier: IntentClassifier, rows: list[dict[str, Any]]
) -> None:
    clean = create_app(DemoConfig(**FAST), classifier)
    worse = create_app(DemoConfig(**FAST, degrade=("slice:channel=email:0.5",),
                                  degrade_rows=str(DATASET)), classifier)  # fmt: skip
    changed = {ch: 0 for ch in ("chat", "email", "voice_transcript")}
    total = dict.fromkeys(changed, 0)
    for row in rows:
        total[row["channel"]] += 1
        changed[row["channel"]] += predict(clean, row["text"]) != predict(worse, row["text"])
    assert changed["chat"] == changed["voice_transcript"] == 0
    # About half of the email rows (binomial: 3 standard deviations either side).
    n = total["email"]
    assert abs(changed["email"] - n / 2) <= 3 * (n * 0.25) ** 0.5


def test_the_same_rows_are_hit_in_every_run_and_order(
    classifier: IntentClassifier, rows: list[dict[str, Any]]
) -> None:
    config = DemoConfig(**FAST, degrade=("intent=refund:0.5",))
    texts = [r["text"] for r in rows]
    first = [predict(create_app(config, classifier), t) for t in texts]
    again = create_app(config, classifier)
    second = {t: predict(again, t) for t in reversed(texts)}
    assert first == [second[t] for t in texts]
    clean = create_app(DemoConfig(**FAST), classifier)
    hit = [t for t, got in zip(texts, first, strict=True) if got != predict(clean, t)]
    assert hit and all(predict(clean, t) == "refund" for t in hit)
    # A different seed picks other rows: the knob is a hash, not a fixed list.
    other = create_app(DemoConfig(**FAST, degrade=("intent=refund:0.5",), seed=1), classifier)
    assert [predict(other, t) for t in texts] != first


def test_the_wrong_answer_is_the_second_choice() -> None:
    degrader = Degrader([parse_rule("intent=refund:1")])
    probabilities = {"refund": 0.6, "billing": 0.3, "shipping": 0.1}
    assert degrader.answer("x", probabilities) == ("billing", 0.3)
    assert degrader.answer("x", {"shipping": 0.7, "refund": 0.3}) == ("shipping", 0.7)


def test_bad_degrade_flags_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_rows = tmp_path / "rows.jsonl"
    bad_rows.write_text('{"label": "refund"}\n')
    for argv, message in [
        (["--degrade", "slice:channel=email:0.4"], "--degrade-rows FILE"),
        (["--degrade", "intent=refund"], "--degrade rule 'intent=refund' is not"),
        (["--degrade", "slice:channel=email:0.4", "--degrade-rows", str(tmp_path / "none")],
         "--degrade-rows"),
        (["--degrade", "slice:channel=email:0.4", "--degrade-rows", str(bad_rows)],
         "rows.jsonl:1: no 'text' field"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
