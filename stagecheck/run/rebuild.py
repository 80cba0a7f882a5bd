"""A summary rebuilt from what a run folder holds, for a run that never wrote its own.

A run whose master (or single process) died — SIGKILL, a crash, the machine's OOM killer —
leaves no summary.json, but every request merged before its death is on disk: the aggregate
appends each merged interval to ``results.jsonl`` (and ``latency.hlog``) as it goes, beside
``rows.jsonl`` and ``scenario.yaml``. :func:`rebuild_summary` replays those lines through the
run's own recording path (:class:`~stagecheck.recording.DeltaFold` →
:class:`~stagecheck.recording.Aggregate`) and builds the summary as the run would have
(:func:`~stagecheck.summary.pipeline.finished_summary`), marked incomplete and therefore invalid.

What the lines do not hold is not invented: the number of workers (None), the generator's CPU,
the inter-token gaps of streamed answers, the dataset rows skipped at load time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from stagecheck.datasets import PreparedDataset, RowTable
from stagecheck.datasets.conversations import ConversationTable
from stagecheck.errors import InputError, one_line
from stagecheck.load.plan import LoadPlan
from stagecheck.protocols import PreparedRequest
from stagecheck.recording import Aggregate, Delta
from stagecheck.recording.recorder import OUTCOMES, R_LATENCY_US, R_STAGE, R_STARTED, Result
from stagecheck.run.controller import INTERRUPT_SLACK_S
from stagecheck.runfolder.results import line_answer
from stagecheck.scenario import LoadedScenario, Scenario
from stagecheck.scenario.yamlread import YAMLProblem, read_yaml
from stagecheck.scoring import get_scorer_class
from stagecheck.summary.facts import RunFacts
from stagecheck.summary.pipeline import finished_summary

__all__ = ["rebuild_summary", "can_rebuild", "REBUILT"]

REBUILT = "incomplete: the run did not end (its master or its process died)"
BATCH = 65_536  # results lines folded at a time (bounded memory on a large run)
_OUTCOME_CODE = {name: i for i, name in enumerate(OUTCOMES)}
_START = re.compile(r"#\[StartTime: ([0-9.]+) ")
_ENV_REF = re.compile(r"\$\{(\w+)\}")
_NO_REQUEST = PreparedRequest(path="", body=b"")  # rows are only read, never sent, here


def can_rebuild(run_dir: Path) -> bool:
    """A run folder without a summary but with the files a summary can be rebuilt from."""
    return (
        run_dir.is_dir()
        and not (run_dir / "summary.json").exists()
        and all((run_dir / f).is_file() for f in ("results.jsonl", "rows.jsonl", "scenario.yaml"))
    )


def rebuild_summary(run_dir: Path) -> dict[str, Any]:
    """The summary of ``run_dir`` from its results on disk (see the module's docstring), made
    as a run's own is: with its dataset profile and error analysis, judged once. Raises
    :class:`InputError` for a scenario copy or rows file that cannot be read."""
    loaded = _scenario(run_dir / "scenario.yaml")
    sc = loaded.scenario
    classification = get_scorer_class(sc.scoring["kind"]).classification
    dataset = _dataset(run_dir / "rows.jsonl", sc.dataset.slices, sc.dataset.path,
                       getattr(sc.dataset.conversations, "history", "reference"))  # fmt: skip
    plan = LoadPlan.from_scenario(loaded)
    lines = run_dir / "results.jsonl"
    started = _hlog_start(run_dir / "latency.hlog") or _first_start(lines)
    agg = Aggregate(dataset.rows, dataset.slice_fields, None, started)
    expected = [r.expected_text for r in dataset.rows]
    requests = bad = 0
    stages: set[int] = set()
    for batch, skipped in _batches(lines, expected, classification):
        bad += skipped
        if not batch.results:
            continue
        requests += len(batch.results)
        for index in sorted({r[R_STAGE] for r in batch.results} - stages):
            stages.add(index)
            _begin_stage(agg, plan, index)
        agg.merge(batch, worker="rebuilt")
    agg.workers.clear()  # which workers sent what is not in the lines
    incomplete = [f"{REBUILT}; rebuilt from the {requests} results on disk"]
    notes = [
        "summary rebuilt by stagecheck report from the run folder: workers, generator CPU, "
        "inter-token latency and skipped dataset rows are unknown"
    ]
    if bad:
        notes.append(f"{bad} results line(s) could not be read (cut by the process's death?)")
    ran = agg.ended - agg.started
    facts = RunFacts(
        run_id=run_dir.name,
        classification=classification,
        load=plan.as_dict(),
        workers=None,
        workers_lost=None,
        interrupted=not plan.exact_pass and ran < plan.duration - INTERRUPT_SLACK_S,
        incomplete=incomplete,
        notes=notes,
    )
    return finished_summary(loaded, dataset, agg, facts, run_dir)


def _scenario(path: Path) -> LoadedScenario:
    """The run's scenario copy, as run (redacted values stand as written: nothing here sends a
    request)."""
    try:
        _, data = read_yaml(path.read_text(encoding="utf-8"))
        scenario = Scenario.model_validate(_expanded(data))
    except (OSError, UnicodeDecodeError, YAMLProblem) as exc:
        raise InputError(f"{path}: cannot read the run's scenario copy: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{path}: {where}: {one_line(first['msg'])}") from None
    return LoadedScenario(scenario=scenario, path=path.resolve(), raw=data)


def _expanded(value: Any) -> Any:
    """``${VAR}`` references expanded from the environment where it has them (an endpoint URL
    kept in one must still validate), left as written otherwise."""
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _expanded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expanded(v) for v in value]
    return value


def _dataset(path: Path, slice_fields: Sequence[str], source: str, history: str
             ) -> PreparedDataset:  # fmt: skip
    rows = RowTable()
    fields = tuple(slice_fields)
    turns: list[tuple[str, int, int]] = []  # a conversation dataset's (conversation, turn, chars)
    with path.open("rb") as f:
        for number, text in enumerate(f, 1):
            try:
                d = orjson.loads(text)
                index, slices = int(d["row"]), d.get("slices") or {}
                expected = str(d.get("expected") or "")
                row_id = str(d.get("id", index))
                row_slices = tuple(str(slices.get(k, "")) for k in fields)
                input_text = str(d.get("input") or "")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                raise InputError(f"{path}:{number}: not a row of rows.jsonl") from None
            if index != len(rows):
                raise InputError(f"{path}:{number}: row {index} out of order")
            rows.append(number, row_id, _NO_REQUEST, expected, expected, row_slices, input_text)
            try:
                if "variant" in d and "origin" in d:  # a varied row: not in the quality figures
                    rows.origins[index] = (str(d["variant"]), int(d["origin"]))
                if "conversation" in d:
                    turns.append((str(d["conversation"]), int(d["turn"]),
                                  int(d.get("context_chars") or 0)))  # fmt: skip
            except (TypeError, ValueError, KeyError):
                raise InputError(f"{path}:{number}: not a row of rows.jsonl") from None
    if turns:
        if len(turns) != len(rows):
            raise InputError(f"{path}: only some rows are turns of a conversation")
        rows.conversations = _conversation_table(turns, history)
    return PreparedDataset(path=source, rows=rows, slice_fields=fields, skipped=0,
                           skipped_problems=())  # fmt: skip


def _conversation_table(turns: list[tuple[str, int, int]], history: str) -> ConversationTable:
    """Which rows make which conversation, from rows.jsonl (each conversation's turns are
    consecutive rows): what the quality figures cluster by. What the turns sent is not on
    the lines, and a rebuilt run sends nothing."""
    table = ConversationTable(history=history)
    first = 0
    for index, (name, turn, chars) in enumerate(turns):
        if index and name != turns[index - 1][0]:
            table.add_conversation(turns[index - 1][0], first, index, [])
            first = index
        table.add_turn(len(table), turn, chars, {}, None, None)
    table.add_conversation(turns[-1][0], first, len(turns), [])
    return table


def _batches(
    path: Path, expected: Sequence[str], classification: bool
) -> Iterator[tuple[Delta, int]]:
    """The results lines as recorder deltas of :data:`BATCH` requests, and how many lines of
    each batch could not be read."""
    delta, bad = Delta(started=0.0), 0
    with path.open("rb") as f:
        for text in f:
            try:
                result, stream = _result(orjson.loads(text), expected, classification)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
                bad += 1
                continue
            if stream is not None:  # TTFT and tokens; inter-token gaps are not on the line
                ttft_us, tokens = stream
                position = len(delta.results)
                delta.streams.append(
                    (result[R_STAGE], ttft_us, (), tokens, False, position, False, 0)
                )
            delta.results.append(result)
            if len(delta.results) >= BATCH:
                yield _timed(delta), bad
                delta, bad = Delta(started=0.0), 0
    yield _timed(delta), bad


def _timed(delta: Delta) -> Delta:
    if delta.results:
        results = delta.results
        delta.started = min(r[R_STARTED] for r in results)
        delta.ended = max(r[R_STARTED] + r[R_LATENCY_US] / 1e6 for r in results)
    return delta


def _result(
    d: dict[str, Any], expected: Sequence[str], classification: bool
) -> tuple[Result, tuple[int, int] | None]:
    row, stage = int(d["row"]), int(d.get("stage") or 0)
    if not 0 <= row < len(expected):
        raise IndexError(row)
    predicted, got = line_answer(d, expected[row], classification)
    judge_ms = d.get("judge_ms") or 0
    result: Result = (
        float(d["t"]), row, _OUTCOME_CODE[d["outcome"]], predicted, got,
        int(d["latency_us"]), d.get("error"), stage, int(d.get("lag_us") or 0), d.get("score"),
        round(float(judge_ms) * 1000),
    )  # fmt: skip
    if "ttft_us" not in d:
        return result, None
    return result, (int(d["ttft_us"]), int(d.get("tokens") or 0))


def _hlog_start(path: Path) -> float | None:
    """The run's start as its latency log wrote it (the aggregate's own start)."""
    try:
        with path.open(encoding="utf-8") as f:
            for _, line in zip(range(20), f, strict=False):
                if m := _START.match(line):
                    return float(m.group(1))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None


def _first_start(path: Path) -> float:
    with path.open("rb") as f:
        for text in f:
            try:
                return float(orjson.loads(text)["t"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return path.stat().st_mtime


def _begin_stage(agg: Aggregate, plan: LoadPlan, index: int) -> None:
    """A stage of the plan, entered when the plan says (the load shape's own moments are not
    on disk)."""
    if 0 <= index < len(plan.stages):
        stage, start = plan.stages[index], plan.stages[index - 1].end if index else 0.0
        agg.begin_stage(index, stage.name, stage.users, agg.started + start)
    else:
        agg.begin_stage(index, f"stage {index + 1}", 0, agg.started)
