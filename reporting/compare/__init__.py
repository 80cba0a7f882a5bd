"""Comparing two runs: pairing their figures, the data read from each, and the views."""
