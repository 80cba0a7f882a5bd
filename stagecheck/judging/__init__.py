"""Judging a run: the metric catalogue and threshold expressions (parsed and checked before a
run). A figure is looked up in a summary by :mod:`stagecheck.summary.lookup`."""
