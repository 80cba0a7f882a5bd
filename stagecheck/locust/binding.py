"""The run session of a Locust environment: set in one place, read through one typed accessor.

Locust hands its users, its load shape and its listeners the ``Environment``, not stagecheck's
run: the session rides on the environment as its ``stagecheck`` attribute (the name locustfiles
of one's own may know). Nobody reads or sets that attribute but these two functions.
"""

from __future__ import annotations

from typing import Any

from stagecheck.run.session import RunSession

__all__ = ["bind_session", "session_of"]

_ATTRIBUTE = "stagecheck"


def bind_session(environment: Any, session: RunSession) -> None:
    """Make ``session`` the run of ``environment`` (see ``stagecheck.locust.attach``)."""
    setattr(environment, _ATTRIBUTE, session)


def session_of(environment: Any) -> RunSession | None:
    """The run session bound to ``environment``; None before one is (or for None)."""
    session = getattr(environment, _ATTRIBUTE, None)
    return session if isinstance(session, RunSession) else None
