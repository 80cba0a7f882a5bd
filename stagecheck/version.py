"""stagecheck's version (written into summaries, the exporter's info metric and the
User-Agent): a module of its own, so that reading it never imports the package's entry points."""

__version__ = "0.1.0"
