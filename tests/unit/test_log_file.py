"""Locust's --logfile handler on a file that can no longer be written: one failure kept, no
traceback per line."""

from __future__ import annotations

import logging

import pytest

from stagecheck.locust.console import LogFile

pytestmark = pytest.mark.unit


def test_a_log_file_on_a_full_disk_says_so_once_without_a_traceback(capsys):
    handler = LogFile("/dev/full", mode="a")  # every write: ENOSPC, as on a full disk
    logger = logging.getLogger("stagecheck-test-log-file")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(3):
            logger.error("line %d", n)
    finally:
        logger.removeHandler(handler)
    assert handler.failure == "full: No space left on device"
    assert capsys.readouterr().err == ""  # logging prints "--- Logging error ---" otherwise
