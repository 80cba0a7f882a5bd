"""Where a run's log lines go once Locust has set up logging (its ``init`` event).

With ``--logfile`` Locust sends every log line (its own and stagecheck's) to that file and none
to the console. ``stagecheck run`` passes ``--logfile <run folder>/locust.log`` and then, by
:func:`route_console`, puts back on the console stagecheck's own lines (progress, run folder,
problems) and Locust's errors (a crash must not go unseen); ``--verbose`` puts back all of
Locust's lines. Plain ``locust -f`` without ``--logfile`` keeps Locust's console as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

__all__ = ["CONSOLE_MODES", "LogFile", "guard_log_file", "route_console"]

#: ``stagecheck``: stagecheck's lines and Locust's errors; ``all``: every line.
CONSOLE_MODES = ("stagecheck", "all")

_MARK = "_stagecheck_console"  # on the handlers added here: idempotent when called again


class _OwnLines(logging.Formatter):
    """``[23:50:01] run folder runs/…``; warnings and errors say so."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        head = f"[{self.formatTime(record, self.datefmt)}] "
        if record.levelno >= logging.WARNING:
            head += f"{record.levelname}: "
        return head + record.getMessage()


def _not_stagecheck(record: logging.LogRecord) -> bool:
    return not record.name.startswith("stagecheck")


def _add(logger: logging.Logger, handler: logging.Handler) -> None:
    setattr(handler, _MARK, True)
    logger.handlers = [h for h in logger.handlers if not getattr(h, _MARK, False)]
    logger.addHandler(handler)


def route_console(mode: str) -> None:
    """Put the lines ``mode`` names back on stderr when Locust logs to a file (no-op without
    one: Locust's console handler already shows everything)."""
    root = logging.getLogger()
    files = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    if not files or mode not in CONSOLE_MODES:
        return
    if mode == "all":
        for logger in (root, logging.getLogger("locust")):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(files[0].formatter)
            _add(logger, handler)
        return
    own = logging.StreamHandler(sys.stderr)
    own.setFormatter(_OwnLines())
    _add(logging.getLogger("stagecheck"), own)  # still propagates to the file
    for logger in (root, logging.getLogger("locust")):
        errors = logging.StreamHandler(sys.stderr)
        errors.setLevel(logging.ERROR)
        errors.addFilter(_not_stagecheck)  # stagecheck's errors are shown once, above
        errors.setFormatter(files[0].formatter)
        _add(logger, errors)


class LogFile(logging.FileHandler):
    """Locust's ``--logfile`` handler, which says when the file can no longer be written (a
    full disk, a folder made read-only) rather than print a traceback for every line:
    ``failure`` holds what failed, and nothing more is written to it."""

    failure: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failure is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)
            return
        self.failure = f"{os.path.basename(self.baseFilename)}: {exc.strerror or exc}"
        with contextlib.suppress(OSError):
            self.close()  # closes the file even when its last flush fails


def guard_log_file() -> LogFile | None:
    """Put a :class:`LogFile` in place of the file handler Locust's ``--logfile`` set up (on
    the root and ``locust`` loggers); None without one."""
    root, locust = logging.getLogger(), logging.getLogger("locust")
    old = next((h for h in root.handlers if type(h) is logging.FileHandler), None)
    if old is None:
        return next((h for h in root.handlers if isinstance(h, LogFile)), None)
    new = LogFile(old.baseFilename, mode="a", encoding=old.encoding)
    new.setFormatter(old.formatter)
    new.setLevel(old.level)
    for logger in (root, locust):
        logger.handlers = [new if h is old else h for h in logger.handlers]
    old.close()
    return new
