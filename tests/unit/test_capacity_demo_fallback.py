"""The demo endpoint's ``--fallback-above`` knob, which capacity tests use to set an accuracy
knee: while more than N requests are in flight, every answer is the fallback label."""

from __future__ import annotations

import gevent

import pytest

from stagecheck.demo.app import DemoApp, create_app
from stagecheck.demo.config import DemoConfig
from stagecheck.demo.model import IntentClassifier, load_default
from stagecheck.demo.server import main
from tests.support import demo_predict

pytestmark = pytest.mark.unit

FAST = dict(jitter_ms=0, slowdown_ms_per_request=0, token_delay_ms=0, complex_extra_ms=0)
TEXT = "I was charged twice for my subscription this month"


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return load_default()


def predict(app: DemoApp, text: str = TEXT) -> str:
    return demo_predict(app, text)


def test_alone_the_model_answers_and_above_the_limit_it_falls_back(
    classifier: IntentClassifier,
) -> None:
    normal = predict(create_app(DemoConfig(latency_ms=0, **FAST), classifier))
    fallback = "product_info" if normal != "product_info" else "billing"
    one = DemoConfig(latency_ms=0, fallback_above=1, fallback_label=fallback, **FAST)
    assert predict(create_app(one, classifier)) == normal  # one in flight: not above 1
    zero = DemoConfig(latency_ms=0, fallback_above=0, fallback_label=fallback, **FAST)
    assert predict(create_app(zero, classifier)) == fallback
    default = create_app(DemoConfig(latency_ms=0, fallback_above=0, **FAST), classifier)
    assert predict(default) == sorted(classifier.labels)[0]


def test_concurrent_requests_fall_back_while_more_than_n_are_in_flight(
    classifier: IntentClassifier,
) -> None:
    normal = predict(create_app(DemoConfig(latency_ms=0, **FAST), classifier))
    fallback = "product_info" if normal != "product_info" else "billing"
    app = create_app(DemoConfig(latency_ms=30, fallback_above=3, fallback_label=fallback,
                                **FAST), classifier)  # fmt: skip
    # 5 requests at once, answered in arrival order: the first two answer with 5 and 4 in
    # flight (above 3) and fall back, the last three with 3, 2, 1 do not
    answers = [g.get() for g in [gevent.spawn(predict, app) for _ in range(5)]]
    assert answers == [fallback, fallback, normal, normal, normal]


def test_bad_fallback_knobs_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["--fallback-above", "-1"], "--fallback-above must be >= 0"),
        (["--fallback-label", "nope"], "--fallback-label 'nope' is not one"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1]
