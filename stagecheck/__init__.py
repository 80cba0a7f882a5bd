"""stagecheck: validate an ML model on its staging endpoint, under load."""

__version__ = "0.1.0"
