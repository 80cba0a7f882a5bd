"""Prometheus export of a live run: the collector (:mod:`.collector`), computed at scrape time
from the run's live view, and where it is served (:mod:`.server`). The series it serves are
listed in the one catalogue, :mod:`stagecheck.judging.catalogue`."""
