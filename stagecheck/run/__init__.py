"""The run: its load side in every process (:class:`RunSession`), its totals and lifecycle on
the master or the single process (:class:`RunController`), and the live view of it that the
exporter and the web UI read (:class:`LiveView`). No Locust import."""

from stagecheck.run.controller import EXIT_FOR_VERDICT, RunController, exit_code_for, progress_line
from stagecheck.run.live import LiveView
from stagecheck.run.session import RunSession, Sent

__all__ = [
    "EXIT_FOR_VERDICT",
    "LiveView",
    "RunController",
    "RunSession",
    "Sent",
    "exit_code_for",
    "progress_line",
]
