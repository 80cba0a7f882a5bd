"""stagecheck's tabs in Locust's web UI, the run folders' reports, and starts from the UI form.

Locust's React UI renders an extended tab as one table (``template_args["extended_tabs"]`` and
``["extended_tables"]``) whose rows come from an ``extended_stats`` entry of the
``/stats/requests`` JSON it polls every couple of seconds. The rows are built here from the
plugin's live view when Locust polls (never per request). The UI renders every cell as text, so
dataset rows holding HTML show as text. Every route added here sits behind Locust's own auth
(``web_ui.auth_required_if_enabled``), and reports are served read-only from the run folders of
this process only.
"""

from __future__ import annotations

import gevent
import gevent.event

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagecheck.errors import InputError
from stagecheck.judging.thresholds import judges_correctness
from stagecheck.load.plan import LoadPlan
from stagecheck.summary.schema import ungated_text

if TYPE_CHECKING:
    from stagecheck.locust.plugin import StagecheckPlugin
    from stagecheck.run import LiveView

__all__ = ["install_web_ui", "extended_stats", "TABS", "RunFolders", "ENV_WEB_USER",
           "ENV_WEB_PASSWORD", "MISSING_LOGIN"]  # fmt: skip

log = logging.getLogger("stagecheck")

ENV_WEB_USER = "STAGECHECK_WEB_USER"  # --web-login: the one user and password stagecheck
ENV_WEB_PASSWORD = "STAGECHECK_WEB_PASSWORD"  # accepts when the locustfile sets no auth itself
MISSING_LOGIN = (
    f"--web-login needs {ENV_WEB_USER} and {ENV_WEB_PASSWORD} set (the one user "
    "and password of the web UI); without them nobody could log in"
)
REPORT_GRACE_S = 5.0  # --web-linger: the UI stays this long once the report has been fetched
SAMPLES_SHOWN = 50  # the summary keeps a bounded sample already
SLICES_SHOWN = 15
_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_LAT_COLS = ("p50", "p90", "p95", "p99", "pnines")  # p99.9: the UI camel-cases keys

# key → (tab title, columns). Keys are lower-case words: the UI camel-cases table keys. No
# column is keyed "name": Locust's table sorts its rows by that key unless a header is clicked,
# which would undo our worst-first order. Three tabs with short titles, so that they fit in the
# tab bar beside Locust's own in a 1280-pixel window (~100 px a tab): the wrong answers are
# rows of the Quality tab.
TABS: dict[str, tuple[str, Sequence[tuple[str, str]]]] = {
    "stagecheck": (
        "Verdict",
        (("item", "Item"), ("value", "Value"), ("status", "Status"), ("detail", "Detail")),
    ),
    "stagecheck_quality": (
        "Quality",
        (
            ("kind", "Kind"),
            ("group", "Name"),
            ("requests", "Requests"),
            ("accuracy", "Accuracy"),
            ("errors", "Error rate"),
            ("fone", "F1"),
            ("expected", "Expected"),
            ("got", "Got"),
            ("detail", "Detail"),
        ),
    ),
    "stagecheck_latency": (
        "Latency",
        (
            ("timing", "Timing"),
            ("source", "Source"),
            ("window", "Window"),
            ("count", "Count"),
            ("p50", "p50"),
            ("p90", "p90"),
            ("p95", "p95"),
            ("p99", "p99"),
            ("pnines", "p99.9"),
            ("max", "max"),
        ),
    ),
}


class RunFolders:
    """The run folders of this process, numbered from 1 in the order their runs started: the
    only folders the report route serves from."""

    def __init__(self) -> None:
        self._dirs: list[Path] = []

    def note(self, run_dir: Path) -> int:
        """The number of ``run_dir`` (registered on first sight)."""
        resolved = run_dir.resolve()
        if resolved not in self._dirs:
            self._dirs.append(resolved)
        return self._dirs.index(resolved) + 1

    def get(self, number: int) -> Path | None:
        return self._dirs[number - 1] if 1 <= number <= len(self._dirs) else None


def report_path(number: int) -> str:
    return f"/stagecheck/runs/{number}/report.html"


# -- rows (pure: a live view in, table rows out) ----------------------------------------------
def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f} %"


def _num(x: Any) -> str:
    return "–" if x is None else f"{float(x):.4f}"


def _ms(us: Any) -> str:
    return "–" if us is None else f"{float(us) / 1000:.3f} ms"


def _observed(t: Mapping[str, Any]) -> str:
    obs, unit = t.get("observed"), t.get("unit") or ""
    if obs is None:
        return "–"
    if unit == "s":
        return f"{1000 * float(obs):.3f} ms"
    if unit == "%":
        return _pct(obs)
    return f"{float(obs):.4g}{unit}"


def verdict_rows(
    view: LiveView, report_url: str | None, report_note: str = "also under Download Data"
) -> list[dict[str, Any]]:
    s = view.summary
    req = s.get("requests", {})
    q = s.get("quality") or {}
    validity = s.get("validity") or {}
    rows: list[dict[str, Any]] = [
        {"item": "verdict", "value": str(s.get("verdict", "")).upper(),
         "status": "finished" if view.finished else "running",
         "detail": f"{view.scenario} · run {view.run_id} · {view.elapsed_s:.0f} s · "
                   f"{view.users} users"},
        {"item": "run valid", "value": "yes" if validity.get("valid", True) else "no",
         "status": "ok" if validity.get("valid", True) else "INVALID",
         "detail": "; ".join(validity.get("reasons") or [])},
    ]  # fmt: skip
    thresholds = s.get("thresholds") or []
    if validity.get("valid", True) and not any(
        judges_correctness(str(t.get("metric", ""))) for t in thresholds
    ):
        rows.append({"item": "correctness gate", "value": "none", "status": "WARNING",
                     "detail": ungated_text(q.get("accuracy"))})  # fmt: skip
    for t in thresholds:
        passed = t.get("passed")
        rows.append({"item": f"threshold {t.get('expression')}", "value": _observed(t),
                     "status": "–" if passed is None else ("PASS" if passed else "FAIL"),
                     "detail": ""})  # fmt: skip
    rows.append({"item": "requests", "value": str(req.get("total", 0)), "status": "",
                 "detail": f"error rate {_pct(req.get('error_rate'))}, achieved "
                           f"{view.achieved_rate:.1f}/s"})  # fmt: skip
    for key, title in (("accuracy", "accuracy"), ("f1_macro", "F1 macro"),
                       ("f1_weighted", "F1 weighted")):  # fmt: skip
        if key in q:
            rows.append({"item": title, "value": _num(q.get(key)), "status": "", "detail": ""})
    for outcome, n in (req.get("by_outcome") or {}).items():
        rows.append({"item": f"outcome {outcome}", "value": str(n), "status": "", "detail": ""})
    for cause, n in (req.get("by_cause") or {}).items():
        rows.append({"item": f"failure cause {cause}", "value": str(n), "status": "",
                     "detail": ""})  # fmt: skip
    if report_url is not None:
        rows.append({"item": "report", "value": report_url,
                     "status": "ready" if view.finished else "when the run ends",
                     "detail": report_note})  # fmt: skip
    return rows


def class_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    classes = sorted(summary.get("classes") or [],
                     key=lambda c: (c.get("f1") is None, c.get("f1") or 0.0))  # fmt: skip
    return [{"kind": "class (worst F1 first)", "group": str(c.get("label")),
             "requests": c.get("support"), "accuracy": "–", "errors": "–",
             "fone": _num(c.get("f1")),
             "detail": f"precision {_num(c.get('precision'))} · recall {_num(c.get('recall'))}"}
            for c in classes]  # fmt: skip


def _worst_first(group: Mapping[str, Any]) -> tuple[float, float]:
    """Lowest accuracy first (a group with no scored answer, all failed, first of all), then
    the highest error rate."""
    accuracy = (group.get("quality") or {}).get("accuracy")
    return (-1.0 if accuracy is None else float(accuracy), -float(group.get("error_rate") or 0))


def latency_rows(view: LiveView, locust_entry: Any = None) -> list[dict[str, Any]]:
    """HDR percentiles (µs resolution) of each timing, whole run and last interval; beside
    e2e, Locust's own figures for the same request name (bucketed: 1 ms steps, then 2
    significant digits)."""
    rows: list[dict[str, Any]] = []
    for timing, lat in (view.summary.get("latency") or {}).items():
        keys = ("p50_us", "p90_us", "p95_us", "p99_us", "p99_9_us")
        row = {"timing": timing, "source": "stagecheck HDR", "window": "whole run",
               "count": lat.get("count", 0), "max": _ms(lat.get("max_us"))}  # fmt: skip
        row.update({col: _ms(lat.get(k)) for col, k in zip(_LAT_COLS, keys, strict=True)})
        rows.append(row)
        recent = view.interval.get(timing)
        if recent is not None:
            row = {"timing": timing, "source": "stagecheck HDR", "window": "last 10 s",
                   "count": recent.count, "max": _ms(recent.max_us)}  # fmt: skip
            row.update({col: _ms(recent.percentiles_us.get(p))
                        for col, p in zip(_LAT_COLS, _PERCENTILES, strict=True)})  # fmt: skip
            rows.append(row)
        if timing == "e2e" and locust_entry is not None:
            rows.extend(_locust_rows(locust_entry))
    return rows


def _locust_rows(entry: Any) -> list[dict[str, Any]]:
    def ms(v: Any) -> str:
        return "–" if v is None else f"{float(v):.0f} ms"

    whole = {"timing": "e2e", "source": "Locust (rounded)", "window": "whole run",
             "count": entry.num_requests, "max": ms(entry.max_response_time)}  # fmt: skip
    recent = {"timing": "e2e", "source": "Locust (rounded)", "window": "last 10 s",
              "count": "", "max": ""}  # fmt: skip
    for col, p in zip(_LAT_COLS, _PERCENTILES, strict=True):
        whole[col] = ms(entry.get_response_time_percentile(p / 100)) if entry.num_requests else "–"
        recent[col] = ms(entry.get_current_response_time_percentile(p / 100))
    return [whole, recent]


def breakdown_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Classes (worst F1 first), the stages in order, then the slices (worst first)."""
    rows = class_rows(summary)
    stages = summary.get("stages") or []
    if len(stages) > 1 or (stages and stages[0].get("name") != "steady"):
        for st in stages:
            quality = st.get("quality") or {}
            rows.append({"kind": "stage", "group": f"{st.get('index', 0) + 1}. {st.get('name')}",
                         "requests": st.get("requests", 0),
                         "accuracy": _num(quality.get("accuracy")),
                         "errors": _pct(st.get("error_rate")),
                         "fone": _num(quality.get("f1_macro")),
                         "detail": f"{st.get('users')} users, "
                                   f"{float(st.get('throughput_per_s') or 0):.1f}/s"})  # fmt: skip
    slices = sorted(summary.get("slices") or [], key=_worst_first)
    for sl in slices[:SLICES_SHOWN]:
        quality = sl.get("quality") or {}
        rows.append({"kind": "slice (worst first)", "group": f"{sl.get('field')}={sl.get('value')}",
                     "requests": sl.get("requests", 0), "accuracy": _num(quality.get("accuracy")),
                     "errors": _pct(sl.get("error_rate")), "fone": _num(quality.get("f1_macro")),
                     "detail": ""})  # fmt: skip
    return rows


def sample_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The latest wrong answers, as rows of the Quality tab: the input as the name, the error
    (for a failure) as the detail."""
    samples = list(summary.get("samples") or [])[-SAMPLES_SHOWN:]
    return [{"kind": f"answer {s.get('outcome', '')}", "group": _text(s.get("input")),
             "requests": "", "accuracy": "", "errors": "", "fone": "",
             "expected": _text(s.get("expected")), "got": _text(s.get("got")),
             "detail": _text(s.get("error"))} for s in reversed(samples)]  # fmt: skip


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def extended_stats(
    view: LiveView | None,
    report_url: str | None = None,
    locust_entry: Any = None,
    report_note: str = "also under Download Data",
) -> list[dict[str, Any]]:
    """The ``extended_stats`` entry of ``/stats/requests``: one table per tab."""
    if view is None:
        empty: dict[str, list[dict[str, Any]]] = {key: [] for key in TABS}
        empty["stagecheck"] = [{"item": "verdict", "value": "not started", "status": "",
                                "detail": "start a run from the form"}]  # fmt: skip
        return [{"key": key, "data": data} for key, data in empty.items()]
    s = view.summary
    tables = {
        "stagecheck": verdict_rows(view, report_url, report_note),
        "stagecheck_quality": breakdown_rows(s) + sample_rows(s),
        "stagecheck_latency": latency_rows(view, locust_entry),
    }
    # every row has every column of its tab (a class row has no expected answer): blank cells
    return [
        {"key": key, "data": [{k: row.get(k, "") for k, _ in TABS[key][1]} for row in data]}
        for key, data in tables.items()
    ]


# -- Flask glue ---------------------------------------------------------------------------------
def install_web_ui(web_ui: Any, plugin: StagecheckPlugin) -> None:
    """Add the tabs, the report routes and the UI-start hook to Locust's ``web_ui``."""
    from flask import Response, abort, redirect, request, send_from_directory

    folders = RunFolders()
    auth = web_ui.auth_required_if_enabled
    linger = plugin.options.web_linger
    report_note = "also under Download Data"
    report_fetched = gevent.event.Event()
    if linger is not None:
        report_note += (f"; the UI quits {linger:g} s after the run ends, or "
                        f"{REPORT_GRACE_S:g} s after the report is opened")  # fmt: skip
        gevent.spawn(_quit_after_the_run, web_ui, plugin, linger, report_fetched)
    web_ui.template_args["extended_tabs"] = [{"title": title, "key": key}
                                             for key, (title, _) in TABS.items()]  # fmt: skip
    web_ui.template_args["extended_tables"] = [
        {"key": key, "structure": [{"key": k, "title": t} for k, t in cols]}
        for key, (_, cols) in TABS.items()
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/stagecheck/report/latest", "title": "stagecheck report of the latest run"}
    ]

    def current_report() -> str | None:
        controller = plugin.controller
        if controller is None:
            return None
        return report_path(folders.note(controller.run_dir))

    def locust_entry() -> Any:
        session, runner = plugin.session, getattr(web_ui.environment, "runner", None)
        if session is None or runner is None:
            return None
        for entry in runner.stats.entries.values():
            if entry.name == session.request_name:
                return entry
        return None

    @auth
    def use_form_values() -> None:
        _use_form_values(plugin, web_ui.environment, request.form)

    @web_ui.app.before_request
    def take_form_values() -> Any:
        # Before Locust's own route and its login check: check the login here, the same way
        # (not logged in: Locust's answer, the login page, and the plan is left alone).
        if request.method == "POST" and request.path.rstrip("/").endswith("/swarm"):
            return use_form_values()
        return None

    @web_ui.app.after_request
    def add_extended_stats(response: Response) -> Response:
        if request.path.rstrip("/").endswith("/stats/requests") and response.status_code == 200:
            body = response.get_json(silent=True)
            if isinstance(body, dict):
                body["extended_stats"] = extended_stats(
                    plugin.live_view(), current_report(), locust_entry(), report_note
                )
                response.set_data(json.dumps(body))
        return response

    @web_ui.app.route("/stagecheck/runs/<int:number>/<path:name>")
    @auth
    def run_file(number: int, name: str) -> Response:
        run_dir = folders.get(number)
        if run_dir is None:
            abort(404)
        # send_from_directory refuses paths that leave the folder (and absolute ones)
        response = send_from_directory(run_dir, name, max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        controller = plugin.controller
        if name == "report.html" and controller is not None and controller.finished:
            report_fetched.set()
        return response

    @web_ui.app.route("/stagecheck/report/latest")
    @auth
    def latest_report() -> Response:
        controller = plugin.controller
        if controller is None or not controller.finished:
            return Response("no run has finished yet\n", status=404, mimetype="text/plain")
        return redirect(report_path(folders.note(controller.run_dir)))  # type: ignore[return-value]

    if web_ui.web_login:
        _default_login(web_ui)


def _quit_after_the_run(
    web_ui: Any, plugin: StagecheckPlugin, linger: float, report_fetched: gevent.event.Event
) -> None:
    """``--web-linger``: once the run has ended, leave the UI up for ``linger`` seconds, or until
    its report has been fetched (then :data:`REPORT_GRACE_S`), then quit the way Locust's
    ``--autoquit`` does (the process exits with the run's exit code). A run stopped by a signal
    quits at once."""
    plugin.done.wait()
    if not plugin.stopped_by_signal and report_fetched.wait(timeout=linger):
        gevent.sleep(REPORT_GRACE_S)
    if plugin.quitting:
        return  # Locust's shutdown (SIGTERM) is under way
    log.info("the web UI quits (--web-linger)")
    web_ui.environment.runner.quit()
    web_ui.stop()


def _use_form_values(plugin: StagecheckPlugin, environment: Any, form: Mapping[str, str]) -> None:
    """A start from the UI form follows the form's user count, spawn rate and run time (Locust
    updates its own options only after this, and the shape's first tick reads the plan)."""
    from locust.runners import STATE_RUNNING, STATE_SPAWNING
    from locust.util.timespan import parse_timespan

    runner, session, prepared = environment.runner, plugin.session, plugin.prepared
    if session is None or prepared is None or runner is None:
        return
    if runner.state in (STATE_RUNNING, STATE_SPAWNING):
        return  # Locust does not change a running shape from the form
    try:
        users = int(form["user_count"]) if form.get("user_count") else None
        rate = float(form["spawn_rate"]) if form.get("spawn_rate") else None
        run_time = form.get("run_time")
        duration = float(parse_timespan(run_time)) if run_time else None
    except (ValueError, KeyError):
        return  # Locust's own handler answers the form with the problem
    if duration is None and environment.parsed_options is not None:
        duration = environment.parsed_options.run_time
    if users is None or users < 1:
        return
    session.plan = LoadPlan.from_scenario(prepared.loaded, users=users, spawn_rate=rate,
                                          duration=duration)  # fmt: skip
    log.info("run from the web UI: %d users at %s/s for %ss", users, rate,
             session.plan.duration)  # fmt: skip


def _default_login(web_ui: Any) -> None:
    """``--web-login`` with no auth set up by the locustfile: one user, from the environment
    (``STAGECHECK_WEB_USER`` / ``STAGECHECK_WEB_PASSWORD``); without both, bad input (nobody
    could log in)."""
    import hmac

    from flask import redirect, request, session, url_for
    from flask_login import UserMixin, login_user

    manager = web_ui.login_manager
    if getattr(manager, "_user_callback", None) or getattr(manager, "_request_callback", None):
        return  # the locustfile configured its own
    user, password = os.environ.get(ENV_WEB_USER), os.environ.get(ENV_WEB_PASSWORD)
    if not (user and password):
        raise InputError(MISSING_LOGIN)
    if not web_ui.app.secret_key:  # signs the session cookie; one per process is enough
        web_ui.app.secret_key = os.urandom(32)

    class _User(UserMixin):
        def __init__(self, name: str) -> None:
            self.id = name

    def load_user(user_id: str) -> _User | None:
        return _User(user_id) if user and hmac.compare_digest(user_id, user) else None

    manager.user_loader(load_user)
    web_ui.auth_args = {"username_password_callback": "/stagecheck/login"}

    @web_ui.app.route("/stagecheck/login", methods=["POST"])
    def login_submit() -> Any:
        name, given = request.form.get("username", ""), request.form.get("password", "")
        if hmac.compare_digest(name, user) and hmac.compare_digest(given, password):
            login_user(_User(name))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))
