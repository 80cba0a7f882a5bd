"""``kind: judge`` — LLM as judge: a second OpenAI-compatible endpoint grades each answer.

After the target answered (its latency is already measured), the user's greenlet sends the
judge a chat request: the ``rubric`` as the system message, then the question, the reference
answer and the answer to grade. The judge replies with JSON ``{"score": S, "reason": "…"}``;
S is in 0..1 (``scale: 0-1``) or 1..5 (``scale: 1-5``, normalised to (S - 1) / 4). The request
passes when the normalised score ≥ ``threshold``.

The judge has its own timeout. Its time is returned with each verdict (``judge_ms`` in
results.jsonl) and never counted in the target's latency. A judge that fails (connection,
timeout, HTTP error, an answer without a usable score) makes the request unparseable with the
cause ``judge``: the target is not blamed. Verdicts are not memoised: every answer is judged.

The HTTP client is geventhttpclient's (the one Locust's FastHttpUser uses): cooperative under
gevent, one connection pool per process, opened on first use (after a worker's fork).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from stagecheck.scoring.scorers import (
    Graded,
    Scorer,
    ScorerOptions,
    UnparseableAnswer,
    answer_text,
    expected_text,
    load_json_answer,
)
from stagecheck.units import parse_duration

__all__ = ["JudgeEndpoint", "JudgeOptions", "JudgeScorer", "JudgeFailed", "DEFAULT_RUBRIC"]

DEFAULT_RUBRIC = (
    "You grade a customer-support assistant. Compare the answer with the reference answer: "
    "it must give the same facts (numbers, time limits, steps) and must not contradict it; "
    "wording may differ. Score 1 for a fully correct answer, 0 for a wrong or off-topic one, "
    "and in between for a partly correct one."
)
_CHAT_ROUTE = "/v1/chat/completions"
_ANSWER_LIMIT = 4000  # characters of the graded answer sent to the judge


class JudgeFailed(UnparseableAnswer):
    """The judge could not grade: the request is unparseable, with the cause ``judge``."""

    cause = "judge"


class JudgeEndpoint(ScorerOptions):
    """The judge: an OpenAI-compatible chat endpoint."""

    url: str = Field(
        description="Base URL (then /v1/chat/completions is appended) or the full chat route"
    )
    model: str = Field(description="Model name sent to the judge")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers; give secrets as ${VAR} (environment)"
    )
    timeout: Annotated[float, BeforeValidator(parse_duration)] = Field(
        30.0, gt=0, description="The whole judge call (30s, 500ms…)"
    )
    rubric: str = Field(DEFAULT_RUBRIC, min_length=1, description="The judge's instructions")
    scale: Literal["0-1", "1-5"] = Field("0-1", description="The score scale asked of the judge")
    max_tokens: int = Field(200, ge=1, description="Sent to the judge (its reason's length)")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {v!r}")
        return v


class JudgeOptions(ScorerOptions):
    """``kind: judge`` — a second LLM grades each answer against the reference."""

    kind: Literal["judge"] = "judge"
    judge: JudgeEndpoint
    threshold: float = Field(0.7, gt=0, le=1, description="Pass when normalised score >= this")


@dataclass(frozen=True, slots=True)
class ExpectedJudged:
    """A row's reference answer (``str()``) and its question, for the judge's prompt."""

    reference: str
    question: str

    def __str__(self) -> str:
        return self.reference


class JudgeScorer(Scorer):
    """Asks the judge; score = its normalised grade."""

    kind: ClassVar[str] = "judge"
    Options: ClassVar[type[JudgeOptions]] = JudgeOptions
    memoize: ClassVar[bool] = False
    options: JudgeOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        j = self.options.judge
        parts = urlsplit(j.url)
        self._path = parts.path if parts.path not in ("", "/") else _CHAT_ROUTE
        if parts.query:
            self._path += "?" + parts.query
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self._headers.update(j.headers)
        self._client: Any = None

    def prepare_expected(self, raw: Any) -> ExpectedJudged:
        return ExpectedJudged(expected_text(raw), "")

    def prepare_row(self, raw: Any, record: Mapping[str, Any], question: str) -> ExpectedJudged:
        return ExpectedJudged(expected_text(raw), question)

    def prompt(self, answer: str, expected: ExpectedJudged) -> dict[str, Any]:
        """The judge's chat request body."""
        j = self.options.judge
        scale = "between 0 and 1" if j.scale == "0-1" else "from 1 to 5"
        user = (
            f"Question:\n{expected.question or '(not given)'}\n\n"
            f"Reference answer:\n{expected.reference}\n\n"
            f"Answer to grade:\n{answer[:_ANSWER_LIMIT]}\n\n"
            f'Reply with JSON only: {{"score": <a number {scale}>, "reason": "<one sentence>"}}'
        )
        return {
            "model": j.model,
            "messages": [
                {"role": "system", "content": j.rubric},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
            "max_tokens": j.max_tokens,
        }

    def grade(self, prediction: Any, expected: Any) -> Graded:
        answer = prediction if type(prediction) is str else answer_text(prediction)
        body = json.dumps(self.prompt(answer, expected)).encode()
        timeout = self.options.judge.timeout
        import gevent  # run time only: the reports import the scorers' option models

        t0 = time.perf_counter_ns()
        try:
            with gevent.Timeout(timeout, False):
                status, raw = self._post(body)
                judge_us = (time.perf_counter_ns() - t0) // 1000
                value, _reason = self.read_verdict(status, raw)
                return value >= self.options.threshold, None, value, judge_us
        except JudgeFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any judge trouble is the judge's, not the target's
            raise JudgeFailed(f"judge: {type(exc).__name__}: {exc}"[:200]) from None
        raise JudgeFailed(f"judge: no verdict within {timeout:g} s (judge.timeout)")

    def _post(self, body: bytes) -> tuple[int, bytes]:
        if self._client is None:
            from geventhttpclient import HTTPClient

            t = self.options.judge.timeout
            self._client = HTTPClient.from_url(
                self._origin, concurrency=64, connection_timeout=t, network_timeout=t
            )
        resp = self._client.post(self._path, body=body, headers=self._headers)
        try:
            return int(resp.status_code), bytes(resp.read())
        finally:
            resp.release()

    def read_verdict(self, status: int, raw: bytes) -> tuple[float, str]:
        """(normalised score, reason) of the judge's HTTP answer; ``JudgeFailed`` if unusable."""
        if not 200 <= status < 300:
            excerpt = " ".join(raw[:120].decode("utf-8", "replace").split())
            raise JudgeFailed(f"judge: HTTP {status} from {self._origin}{self._path} → {excerpt}")
        content: Any = raw[:120].decode("utf-8", "replace")
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
            verdict = load_json_answer(str(content))
            score = verdict["score"]
        except (ValueError, KeyError, IndexError, TypeError, UnparseableAnswer):
            excerpt = " ".join(str(content)[:120].split())
            raise JudgeFailed(f'judge: answer without a JSON {{"score": …}}: {excerpt}') from None
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise JudgeFailed(f"judge: score is not a number: {score!r:.40}")
        low, high = (0.0, 1.0) if self.options.judge.scale == "0-1" else (1.0, 5.0)
        if not low <= score <= high:
            raise JudgeFailed(f"judge: score {score} is outside {low:g}..{high:g}")
        reason = verdict.get("reason") if isinstance(verdict, dict) else None
        return round((score - low) / (high - low), 4), str(reason or "")

    def score(self, prediction: Any, expected: Any) -> tuple[bool, str | None]:
        return self.grade(prediction, expected)[:2]
