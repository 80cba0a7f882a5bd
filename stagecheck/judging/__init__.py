"""Judging a run: the metric catalogue, threshold expressions and the lookup of a figure in a
summary."""
