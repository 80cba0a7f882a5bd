"""The worker processes Locust forks for ``--processes``: they end with their master, and a
master reaps the ones that outlive it (Locust's own clean-up treats a running child as gone)."""

from __future__ import annotations

import logging
import os
import signal

import psutil

__all__ = ["die_with_parent", "reap_forked_workers"]

log = logging.getLogger("stagecheck")

_PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent() -> None:
    """In a process forked from this one (Locust's ``--processes`` workers): receive SIGTERM
    when the parent ends, however it ends (killed, or failed before its run began), so that no
    worker is left behind loading the endpoint and holding the parent's pipes. Linux only."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):  # not Linux: Locust's heartbeat timeout still applies
        return
    if os.getppid() == 1:  # the parent ended before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def reap_forked_workers(grace_s: float) -> None:
    """End the worker processes this master forked (``--processes``) that outlive it by more
    than ``grace_s``: Locust's own clean-up of them does not wait (it treats a running child as
    gone), and an orphaned worker holds its parent's pipes open."""
    me = psutil.Process()
    # Forked workers carry this process's own command line; other children (an endpoint the
    # CLI started, say) are not ours to end.
    mine = me.cmdline()
    children = [c for c in me.children() if _cmdline(c) == mine]
    if not children:
        return
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        log.warning("worker process %d did not stop by itself: ending it", child.pid)
        child.terminate()
    _, alive = psutil.wait_procs(alive, timeout=2)
    for child in alive:
        child.kill()


def _cmdline(process: psutil.Process) -> list[str] | None:
    try:
        return process.cmdline()
    except psutil.Error:  # gone meanwhile, or not ours to read
        return None
