"""One run on the master or the single process: its totals, its life and its end.

The controller owns the run's :class:`~stagecheck.recording.Aggregate` (merged from the
recorders' deltas), the progress lines, the validity rules, the live view that the Prometheus
exporter and the web UI read, and the end of the run: summary → reports → verdict → exit code.
No Locust import: the glue in :mod:`stagecheck.locust.plugin` connects Locust's events to it,
and tests drive it directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stagecheck.endpoint.resources import ResourceSampler
from stagecheck.errors import EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, InputError
from stagecheck.load.plan import LoadPlan
from stagecheck.recording import Aggregate, Delta, IntervalReport
from stagecheck.recording.hdr import value_at_percentile
from stagecheck.redact import redact_text
from stagecheck.run.live import LiveView, RunState, build_live_view
from stagecheck.run.preparation import PreparedScenario
from stagecheck.runfolder.layout import (
    clear_live,
    mark_live,
    write_scenario_copy,
    write_summary,
)
from stagecheck.summary.build import RunFacts, build_summary
from stagecheck.summary.pipeline import finished_summary
from stagecheck.summary.validity import EARLY_STOP_REQUESTS, early_stop_reason

__all__ = ["RunController", "EXIT_FOR_VERDICT", "exit_code_for", "progress_line"]

log = logging.getLogger("stagecheck")

EXIT_FOR_VERDICT = {"passed": 0, "failed": EXIT_THRESHOLD_FAILED, "invalid": EXIT_RUN_FAILED}
#: Writes a final summary's reports into a folder (the caller's: the engine imports no
#: renderer; :func:`stagecheck.reporting.write_reports`). Raises OSError or InputError.
ReportWriter = Callable[[Path, dict[str, Any]], object]
LIVE_MAX_AGE_S = 1.0  # a live view is rebuilt at most this often, however often it is read
INTERRUPT_SLACK_S = 2.0  # a timed run that ended this much before its plan was interrupted


def exit_code_for(verdict: str) -> int:
    """0 passed · 1 a threshold failed · 3 invalid (DESIGN.md). Anything else is invalid: a run
    never exits 0 on a verdict it does not know."""
    return EXIT_FOR_VERDICT.get(verdict, EXIT_RUN_FAILED)


def _no_pause() -> None:
    pass


class RunController:
    """The run's totals and lifecycle. ``pause`` is called while long work (a merge, a live
    view) is under way so that a cooperative caller (gevent) keeps requests in flight moving."""

    def __init__(
        self,
        prepared: PreparedScenario,
        plan: LoadPlan,
        run_dir: Path,
        *,
        started: float | None = None,
        pause: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        defer_rows: bool = False,
        reports: ReportWriter | None = None,
    ) -> None:
        self.prepared = prepared
        self._reports = reports
        self.plan = plan
        self.run_dir = run_dir
        self._pause = pause or _no_pause
        self._clock = clock
        self._write_failure: str | None = None  # what of the run folder could not be written
        self._write_failure_told = False
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            mark_live(run_dir)  # `stagecheck report` leaves a live run's folder alone
            write_scenario_copy(run_dir, prepared.loaded)
        except OSError as exc:
            self._write_failure = f"scenario.yaml: {exc.strerror or exc}"
        ds = prepared.dataset
        # defer_rows: rows.jsonl is written by write_rows() (the caller's, while the run goes
        # on: a large dataset's takes seconds), else here
        self.aggregate = Aggregate(ds.rows, ds.slice_fields, run_dir, started or clock(),
                                   pause=self._pause, defer_rows=defer_rows)  # fmt: skip
        # where summary.json and the reports went: elsewhere (or nowhere, None) when the run
        # folder could not take them (see finish)
        self.summary_dir: Path | None = run_dir
        self.generator_cpu_max = 0.0
        self.incomplete: list[str] = []  # why results may be missing (workers lost, …)
        self.lost_workers: set[str] = set()  # workers whose latest results are missing
        self.notes: list[str] = []
        self.resources: ResourceSampler | None = None
        self.users = 0  # users running now (the glue keeps it current)
        self.stage_index = -1
        self.distributed = False  # results arrive in workers' reports (a few seconds late)
        self.summary: dict[str, Any] | None = None
        self.exit_code: int | None = None
        self._live: LiveView | None = None
        self.early_stop: str | None = None  # why the run stopped early (401/403/404 only)
        self._early_judged = False

    # -- what the run is -----------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def started(self) -> float:
        return self.aggregate.started

    @property
    def finished(self) -> bool:
        return self.summary is not None

    # -- while it runs -------------------------------------------------------------------------
    def begin_stage(self, index: int, at: float | None = None) -> None:
        """The load shape entered stage ``index`` of the plan."""
        if index == self.stage_index:
            return
        self.stage_index = index
        stage = self.plan.stages[index]
        self.aggregate.begin_stage(index, stage.name, stage.users, at or self._clock())

    def merge(self, delta: Delta, worker: str = "local") -> None:
        """A delta recorded in this process (the single process)."""
        if self.summary is None:  # a late report after the end changes nothing written
            self.aggregate.merge(delta, worker=worker, pause=self._pause)

    def absorb(self, interval: IntervalReport, worker: str) -> None:
        """An interval folded on a worker (the master)."""
        if self.summary is None:
            self.aggregate.absorb(interval, worker=worker, pause=self._pause)

    def note_generator_cpu(self, percent: float) -> None:
        self.generator_cpu_max = max(self.generator_cpu_max, float(percent or 0.0))

    def all_answers_in(self) -> bool:
        """Exact pass: every planned request has been recorded."""
        passes = self.prepared.loaded.scenario.dataset.passes
        if passes is None:
            return False
        return self.aggregate.requests >= passes * len(self.prepared.dataset.rows)

    def check_early_stop(self) -> str | None:
        """Whether the run should stop now: its first requests all got HTTP 401, 403 or 404
        (:func:`~stagecheck.summary.validity.early_stop_reason`). Judged once, when the first
        :data:`EARLY_STOP_REQUESTS` requests are in; says why (logged once) or None."""
        if self._early_judged or self.aggregate.requests < EARLY_STOP_REQUESTS:
            return self.early_stop
        self._early_judged = True
        agg = self.aggregate
        self.early_stop = early_stop_reason(agg.requests, agg.cause_counts(), self._route())
        if self.early_stop:
            log.error(self.early_stop)
        return self.early_stop

    def _route(self) -> str:
        req = self.prepared.dataset.rows[0].request
        return f"{req.method} {redact_text(self.prepared.loaded.scenario.endpoint.url + req.path)}"

    def progress_line(self) -> str:
        return progress_line(self.aggregate)

    # -- the run folder ------------------------------------------------------------------------
    @property
    def write_failure(self) -> str | None:
        """The first write to the run folder that failed (``results.jsonl: No space left on
        device``), or None. The counts go on in memory; the run must stop (its results lines
        are lost from then on) and is invalid."""
        return self._write_failure or self.aggregate.write_failure

    def note_write_failure(self, what: str) -> None:
        """A write outside the aggregate failed (``locust.log: …``); the first one counts."""
        if self.write_failure is None:
            self._write_failure = what

    def check_write_failure(self) -> str | None:
        """The write failure, if any, said once (the caller stops the run)."""
        failure = self.write_failure
        if failure and not self._write_failure_told:
            self._write_failure_told = True
            log.error("stopping the run: cannot write the run folder %s (%s)",
                      self.run_dir, failure)  # fmt: skip
        return failure

    def facts(self, *, interrupted: bool = False) -> RunFacts:
        agg = self.aggregate
        return RunFacts(
            run_id=self.run_id,
            classification=self.prepared.scorer.classification,
            load=self.plan.as_dict(),
            workers=max(len(agg.workers | self.lost_workers), 1),
            workers_lost=len(self.lost_workers),
            generator_cpu_max=self.generator_cpu_max,
            interrupted=interrupted,
            incomplete=list(self.incomplete),
            target=self.resources.summary() if self.resources is not None else None,
            notes=list(self.notes),
        )

    def live(self) -> LiveView:
        """The run as it stands (read-only; rebuilt at most every second; after the end, the
        final figures)."""
        now = self._clock()
        view = self._live
        if view is None or (not view.finished and now - view.at >= LIVE_MAX_AGE_S):
            view = self._live = self._build_live(now)
        return view

    def _build_live(self, now: float) -> LiveView:
        summary = self.summary
        if summary is None:
            loaded, ds = self.prepared.loaded, self.prepared.dataset
            summary = build_summary(loaded, ds, self.aggregate, self.facts(), final=False,
                                    pause=self._pause)  # fmt: skip
        return build_live_view(self.aggregate, self._state(), summary, now, pause=self._pause)

    def _state(self) -> RunState:
        sc = self.prepared.loaded.scenario
        cpu, rss = self.resources.latest() if self.resources is not None else (None, None)
        return RunState(
            run_id=self.run_id, scenario=sc.name, model=sc.endpoint.model,
            protocol=sc.endpoint.protocol, url=sc.endpoint.url, distributed=self.distributed,
            finished=self.summary is not None, users=self.users, stage_index=self.stage_index,
            offered_rate=self.plan.rate_at(self.stage_index),
            generator_cpu_max=self.generator_cpu_max, target_cpu_percent=cpu,
            target_memory_bytes=rss,
        )  # fmt: skip

    def write_rows(self, pause: Callable[[], None] | None = None) -> None:
        """Write rows.jsonl, pausing (``pause``, else the controller's) (once; :meth:`finish`
        does it if nobody has)."""
        self.aggregate.write_rows(pause or self._pause)

    # -- the end -------------------------------------------------------------------------------
    def finish(self, *, interrupted: bool | None = None, reason: str | None = None) -> int:
        """End the run: write summary.json and every report, and return the exit code. Called
        once; later calls return the same code. ``interrupted`` defaults to "ended before its
        plan"; ``reason`` (a signal, a lost worker) is recorded among the validity reasons."""
        if self.exit_code is not None:
            return self.exit_code
        agg = self.aggregate
        agg.write_rows(self._pause)
        agg.close()
        if reason:
            self.incomplete.append(reason)
        if not self._early_judged:  # a run shorter than the early-stop rule's requests
            self._early_judged = True
            self.early_stop = early_stop_reason(
                agg.requests, agg.cause_counts(), self._route(), final=True
            )
        if self.early_stop:
            self.incomplete.append(self.early_stop)
            interrupted = False if interrupted is None else interrupted  # stopped on purpose
        if interrupted is None:
            if self.plan.exact_pass:
                interrupted = not self.all_answers_in()
            else:
                interrupted = agg.ended - agg.started < self.plan.duration - INTERRUPT_SLACK_S
        if self.write_failure:
            self.incomplete.append(_folder_reason(self.write_failure))
        summary = self._final_summary(interrupted)
        problem = _write_outputs(self.run_dir, summary, self._reports)
        if problem:  # the summary and reports could not be written: invalid, and kept elsewhere
            self.note_write_failure(problem)
            if not any(r.startswith(_FOLDER_REASON) for r in self.incomplete):
                self.incomplete.append(_folder_reason(problem))
                summary = self._final_summary(interrupted)
            self.summary_dir = _write_elsewhere(self.run_id, summary, self._reports)
        if self.write_failure:
            where = self.summary_dir
            kept = (f"the summary and reports are in {where}" if where is not None
                    else "the summary is on the console only")  # fmt: skip
            log.error("the run folder %s could not be written (%s): %s",
                      self.run_dir, self.write_failure, kept)  # fmt: skip
        self.summary = summary
        self._live = None
        clear_live(self.run_dir)
        self.exit_code = exit_code_for(summary["verdict"])
        if self.summary_dir is not None:
            log.info("%s; report %s", summary["verdict"].upper(), self.summary_dir / "report.html")
        return self.exit_code

    def _final_summary(self, interrupted: bool) -> dict[str, Any]:
        loaded, ds, agg = self.prepared.loaded, self.prepared.dataset, self.aggregate
        return finished_summary(loaded, ds, agg, self.facts(interrupted=interrupted), self.run_dir)


_FOLDER_REASON = "the run folder could not be written"


def _folder_reason(failure: str) -> str:
    return f"{_FOLDER_REASON} ({failure}): the results it holds are incomplete"


def _write_outputs(
    folder: Path, summary: dict[str, Any], reports: ReportWriter | None
) -> str | None:
    """Write every report, then summary.json, into ``folder``; what failed, or None. The
    summary comes last: a folder whose reports could not be written holds no summary that
    contradicts the one written elsewhere."""
    try:
        if reports is not None:
            reports(folder, summary)
        write_summary(folder, summary)
    except OSError as exc:
        return f"{Path(str(exc.filename or 'summary.json')).name}: {exc.strerror or exc}"
    except InputError as exc:  # write_reports' own: "<path>: cannot write the report: <why>"
        path, _, why = exc.problems[0].partition(": cannot write the report: ")
        return f"{Path(path).name}: {why}" if why else exc.problems[0]
    return None


def _write_elsewhere(
    run_id: str, summary: dict[str, Any], reports: ReportWriter | None
) -> Path | None:
    """A folder of the system's temporary space holding the summary and reports of a run
    whose own folder could not take them; None when that fails too (the console keeps it)."""
    import tempfile

    try:
        folder = Path(tempfile.mkdtemp(prefix=f"stagecheck-{run_id}-"))
    except OSError:
        return None
    return None if _write_outputs(folder, summary, reports) else folder


def progress_line(agg: Aggregate) -> str:
    """One line on the run so far (off the hot path: every few seconds)."""
    counts = agg.outcome_counts()
    total = sum(counts.values())
    elapsed = max(agg.ended - agg.started, 1e-9)
    answered = counts["correct"] + counts["incorrect"] + counts["unparseable"]
    failed = total - answered - counts["unfinished"]  # unfinished: no verdict on the endpoint
    total_finished = total - counts["unfinished"]
    h = agg.histogram("e2e")
    p99 = f"{value_at_percentile(h, 99) / 1000:.1f}ms" if h is not None else "-"
    written = agg.outcome_counts(written=True)  # accuracy: the rows as written (no variants)
    scored = written["correct"] + written["incorrect"] + written["unparseable"]
    accuracy = f"{written['correct'] / scored:.1%}" if scored else "-"
    errors = f"{failed / total_finished:.1%}" if total_finished else "-"
    return (f"{elapsed:5.0f}s  {total:,} requests  {total / elapsed:.1f}/s  "
            f"accuracy {accuracy}  errors {errors}  p99 {p99}")  # fmt: skip
