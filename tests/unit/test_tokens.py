"""Output tokens of streamed answers: the usage chunk's count, the recorder → aggregate path
(per-request TTFT and tokens in results lines, tokens per second), and threshold names."""

from __future__ import annotations

import json

import pytest

from stagecheck.judging.thresholds import check_threshold_names, parse_threshold
from stagecheck.protocols import StreamUsage, build_adapter
from stagecheck.recording import CORRECT, Aggregate, Recorder
from tests.unit.test_recording import ROWS

pytestmark = pytest.mark.unit


def _adapter():
    return build_adapter("openai-chat", model="m", inputs=["text"], options={"stream": True})


def test_a_usage_chunk_gives_the_servers_output_tokens():
    a = _adapter()
    usage = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 17}}
    assert a.parse_stream_line(b"data: " + json.dumps(usage).encode()) == StreamUsage(17)
    # a chunk without usage, or with a usage that is no count, gives none
    assert a.parse_stream_line(b'data: {"choices": []}') is None
    bad = {"choices": [], "usage": {"completion_tokens": "many"}}
    assert a.parse_stream_line(b"data: " + json.dumps(bad).encode()) is None


def test_stream_figures_reach_the_results_line_and_the_token_histograms(tmp_path):
    rec = Recorder()
    rec.record(row_index=0, outcome=CORRECT, latency_us=10_000, started=1.0)  # not streamed
    rec.record(row_index=1, outcome=CORRECT, latency_us=101_000, started=1.0)
    # 11 tokens: the first at 1 ms, then 10 more over the next 100 ms → 100 tokens/s
    rec.record_stream(1_000, [10_000] * 10, output_tokens=11, linked=True)
    rec.record(row_index=2, outcome=CORRECT, latency_us=51_000, started=1.0)
    rec.record_stream(1_000, [10_000] * 5, linked=True)  # no usage: 6 deltas
    agg = Aggregate(ROWS, ["complexity"], tmp_path, started=0.0)  # type: ignore[arg-type]
    agg.merge(rec.drain())
    agg.close()
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert "tokens" not in lines[0] and "ttft_us" not in lines[0]
    assert (lines[1]["ttft_us"], lines[1]["tokens"]) == (1_000, 11)
    assert (lines[2]["ttft_us"], lines[2]["tokens"]) == (1_000, 6)
    assert agg.output_tokens == 17
    assert dict(agg.token_sources) == {"usage": 1, "deltas": 1}
    # per answer: (tokens − 1) / (e2e − TTFT) = 10/0.1 s and 5/0.05 s, both 100 tokens/s
    assert agg.tokens_per_s_milli.get_value_at_percentile(50) == pytest.approx(100_000, rel=1e-3)


@pytest.mark.parametrize(
    "text", ["tokens_per_s.p50 >= 20", "tokens.mean <= 300", "output_tokens_per_s >= 500"]
)
def test_token_thresholds_parse_as_plain_numbers_and_need_a_stream(text):
    t = parse_threshold(text)
    assert t.unit == ""
    assert (
        check_threshold_names([t], classes=None, slices=None, timings=("e2e", "ttft", "itl")) == []
    )
    (problem,) = check_threshold_names([t], classes=None, slices=None, timings=("e2e",))
    assert "needs a streaming endpoint" in problem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tokens_per_s.p95 >= 20", "unknown tokens_per_s statistic 'p95' (known: p50, p90"),
        ("tokens_per_s >= 20", "'tokens_per_s' needs a statistic"),
        ("slice[a=b].tokens.p50 >= 2", "recorded for the whole run"),
    ],
)
def test_token_threshold_mistakes_say_what_to_write(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_threshold(text)
