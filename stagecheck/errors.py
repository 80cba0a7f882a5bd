"""The small tree of errors stagecheck raises, and the exit codes they map to (DESIGN.md).

Low-level exceptions (YAML, pydantic, OS, HTTP) are turned into these at one place each, so the
CLI prints one line per problem and never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "EXIT_PASSED",
    "EXIT_THRESHOLD_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_RUN_FAILED",
    "StagecheckError",
    "InputError",
    "RunError",
    "one_line",
    "shorten",
    "unicode_problem",
]

EXIT_PASSED = 0
EXIT_THRESHOLD_FAILED = 1  # a threshold failed (or a regression, for compare)
EXIT_BAD_INPUT = 2  # scenario, dataset or arguments are wrong
EXIT_RUN_FAILED = 3  # the run could not be carried out (endpoint unreachable, run invalid)


MAX_PROBLEM_CHARS = 500


def one_line(text: str) -> str:
    """A problem as one printable line of bounded length: line breaks and other control
    characters escaped, lone surrogates (which no terminal encoding accepts) escaped."""
    text = str(text)
    if not text.isprintable():
        text = "".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
        )
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_PROBLEM_CHARS else shorten(text, MAX_PROBLEM_CHARS)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with an ellipsis (mid-word
    only when its last ~third holds no space: one long word)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rfind(" ", 0, limit - 1)
    if cut >= limit * 2 // 3:
        head = head[:cut]
    return head.rstrip(" ,;:") + "…"


class StagecheckError(Exception):
    """Base class. ``problems`` holds one user-facing line per problem (see :func:`one_line`)."""

    exit_code = EXIT_RUN_FAILED

    def __init__(self, problems: str | Iterable[str]) -> None:
        items = [problems] if isinstance(problems, str) else list(problems)
        self.problems: list[str] = [one_line(p) for p in items]
        super().__init__("\n".join(self.problems))


class InputError(StagecheckError):
    """Bad scenario, dataset or arguments: exit code 2."""

    exit_code = EXIT_BAD_INPUT


class RunError(StagecheckError):
    """The run could not be carried out (endpoint unreachable, run invalid): exit code 3."""

    exit_code = EXIT_RUN_FAILED


def unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate, e.g. from JSON ``"\\udc00"``),
    or None: such text passes checks, then fails where results are encoded."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate such as \\udc00)"
    return None

