"""stagecheck's tabs in Locust's web UI, the run folders' reports, and starts from the UI form.

Locust's React UI renders an extended tab as one table (``template_args["extended_tabs"]`` and
``["extended_tables"]``) whose rows come from an ``extended_stats`` entry of the
``/stats/requests`` JSON it polls every couple of seconds. The rows are built
(:mod:`stagecheck.locust.webtables`) from the run's live view when Locust polls (never per
request). The UI reads the run through :class:`WebRun` (values and callables), not through the
plugin. Every route added here sits behind Locust's own auth
(``web_ui.auth_required_if_enabled``), and reports are served read-only from the run folders of
this process only.
"""

from __future__ import annotations

import gevent
import gevent.event

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from stagecheck.errors import InputError
from stagecheck.locust.webtables import TABS, extended_stats

if TYPE_CHECKING:
    from stagecheck.load.plan import LoadPlan
    from stagecheck.run import LiveView

__all__ = ["install_web_ui", "extended_stats", "TABS", "RunFolders", "ENV_WEB_USER",
           "ENV_WEB_PASSWORD", "MISSING_LOGIN", "LatestRun", "WebRun"]  # fmt: skip

log = logging.getLogger("stagecheck")

ENV_WEB_USER = "STAGECHECK_WEB_USER"  # --web-login: the one user and password stagecheck
ENV_WEB_PASSWORD = "STAGECHECK_WEB_PASSWORD"  # accepts when the locustfile sets no auth itself
MISSING_LOGIN = (
    f"--web-login needs {ENV_WEB_USER} and {ENV_WEB_PASSWORD} set (the one user "
    "and password of the web UI); without them nobody could log in"
)
REPORT_GRACE_S = 5.0  # --web-linger: the UI stays this long once the report has been fetched


class LatestRun(NamedTuple):
    """The current (or last) run's folder, and whether that run has ended."""

    run_dir: Path
    finished: bool


@dataclass(frozen=True)
class WebRun:
    """What the web UI reads of this process's runs, and the one thing it changes (the plan of
    a run started from the form): values and callables, not the plugin."""

    live_view: Callable[[], LiveView | None]  # the current (or last) run as it stands
    latest_run: Callable[[], LatestRun | None]  # None before the first run
    request_name: Callable[[], str | None]  # Locust's name for the scenario's requests
    replan: Callable[[int, float | None, float | None], LoadPlan | None]  # users, rate, time
    metrics: Callable[[], bytes]  # the Prometheus exposition
    run_ended: gevent.event.Event  # set when a run has ended (its summary written)
    stopped_by_signal: Callable[[], bool]  # the last run was stopped by a signal, or quitting
    quitting: Callable[[], bool]  # Locust's shutdown has begun
    linger: float | None = None  # --web-linger


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


# -- Flask glue ---------------------------------------------------------------------------------
def install_web_ui(web_ui: Any, run: WebRun) -> None:
    """Add the tabs, the report routes, ``/metrics`` and the UI-start hook to Locust's
    ``web_ui``."""
    folders = RunFolders()
    report_fetched = gevent.event.Event()
    report_note = _start_linger(web_ui, run, report_fetched)
    _add_tabs(web_ui)
    _add_form_hook(web_ui, run)
    _add_live_tables(web_ui, run, folders, report_note)
    _add_report_routes(web_ui, run, folders, report_fetched)
    _add_metrics_route(web_ui, run)
    if web_ui.web_login:
        _default_login(web_ui)


def _start_linger(web_ui: Any, run: WebRun, report_fetched: gevent.event.Event) -> str:
    """``--web-linger``: quit once the run has ended; the report row's note says when."""
    report_note = "also under Download Data"
    if run.linger is not None:
        report_note += (f"; the UI quits {run.linger:g} s after the run ends, or "
                        f"{REPORT_GRACE_S:g} s after the report is opened")  # fmt: skip
        gevent.spawn(_quit_after_the_run, web_ui, run, run.linger, report_fetched)
    return report_note


def _add_tabs(web_ui: Any) -> None:
    web_ui.template_args["extended_tabs"] = [{"title": title, "key": key}
                                             for key, (title, _) in TABS.items()]  # fmt: skip
    web_ui.template_args["extended_tables"] = [
        {"key": key, "structure": [{"key": k, "title": t} for k, t in cols]}
        for key, (_, cols) in TABS.items()
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/stagecheck/report/latest", "title": "stagecheck report of the latest run"}
    ]


def _add_form_hook(web_ui: Any, run: WebRun) -> None:
    from flask import request

    @web_ui.auth_required_if_enabled
    def use_form_values() -> None:
        _use_form_values(run, web_ui.environment, request.form)

    @web_ui.app.before_request
    def take_form_values() -> Any:
        # Before Locust's own route and its login check: check the login here, the same way
        # (not logged in: Locust's answer, the login page, and the plan is left alone).
        if request.method == "POST" and request.path.rstrip("/").endswith("/swarm"):
            return use_form_values()
        return None


def _add_live_tables(web_ui: Any, run: WebRun, folders: RunFolders, report_note: str) -> None:
    """Our tables ride on Locust's ``/stats/requests`` answer (``extended_stats``)."""
    from flask import Response, request

    def current_report() -> str | None:
        latest = run.latest_run()
        return None if latest is None else report_path(folders.note(latest.run_dir))

    def locust_entry() -> Any:
        name, runner = run.request_name(), getattr(web_ui.environment, "runner", None)
        if name is None or runner is None:
            return None
        for entry in runner.stats.entries.values():
            if entry.name == name:
                return entry
        return None

    @web_ui.app.after_request
    def add_extended_stats(response: Response) -> Response:
        if request.path.rstrip("/").endswith("/stats/requests") and response.status_code == 200:
            body = response.get_json(silent=True)
            if isinstance(body, dict):
                body["extended_stats"] = extended_stats(
                    run.live_view(), current_report(), locust_entry(), report_note
                )
                response.set_data(json.dumps(body))
        return response


def _add_report_routes(
    web_ui: Any, run: WebRun, folders: RunFolders, report_fetched: gevent.event.Event
) -> None:
    from flask import Response, abort, redirect, send_from_directory

    auth = web_ui.auth_required_if_enabled

    @web_ui.app.route("/stagecheck/runs/<int:number>/<path:name>")
    @auth
    def run_file(number: int, name: str) -> Response:
        run_dir = folders.get(number)
        if run_dir is None:
            abort(404)
        # send_from_directory refuses paths that leave the folder (and absolute ones)
        response = send_from_directory(run_dir, name, max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        latest = run.latest_run()
        if name == "report.html" and latest is not None and latest.finished:
            report_fetched.set()
        return response

    @web_ui.app.route("/stagecheck/report/latest")
    @auth
    def latest_report() -> Response:
        latest = run.latest_run()
        if latest is None or not latest.finished:
            return Response("no run has finished yet\n", status=404, mimetype="text/plain")
        return redirect(report_path(folders.note(latest.run_dir)))  # type: ignore[return-value]


def _add_metrics_route(web_ui: Any, run: WebRun) -> None:
    from flask import Response

    @web_ui.app.route("/metrics")
    @web_ui.auth_required_if_enabled
    def metrics() -> Response:
        return Response(run.metrics(), mimetype="text/plain; version=0.0.4")


def _quit_after_the_run(
    web_ui: Any, run: WebRun, linger: float, report_fetched: gevent.event.Event
) -> None:
    """``--web-linger``: once the run has ended, leave the UI up for ``linger`` seconds, or until
    its report has been fetched (then :data:`REPORT_GRACE_S`), then quit the way Locust's
    ``--autoquit`` does (the process exits with the run's exit code). A run stopped by a signal
    quits at once."""
    run.run_ended.wait()
    if not run.stopped_by_signal() and report_fetched.wait(timeout=linger):
        gevent.sleep(REPORT_GRACE_S)
    if run.quitting():
        return  # Locust's shutdown (SIGTERM) is under way
    log.info("the web UI quits (--web-linger)")
    web_ui.environment.runner.quit()
    web_ui.stop()


def _use_form_values(run: WebRun, environment: Any, form: Mapping[str, str]) -> None:
    """A start from the UI form follows the form's user count, spawn rate and run time (Locust
    updates its own options only after this, and the shape's first tick reads the plan)."""
    from locust.runners import STATE_RUNNING, STATE_SPAWNING
    from locust.util.timespan import parse_timespan

    runner = environment.runner
    if runner is None or runner.state in (STATE_RUNNING, STATE_SPAWNING):
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
    plan = run.replan(users, rate, duration)
    if plan is not None:
        log.info("run from the web UI: %d users at %s/s for %ss", users, rate, plan.duration)


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
