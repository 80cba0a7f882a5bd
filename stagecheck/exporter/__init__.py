"""Prometheus export of a live run: the metric catalogue (:mod:`.catalogue`, no dependencies,
read by the run's live view, the Grafana builder and the tests), the collector
(:mod:`.collector`) and where it is served (:mod:`.server`)."""

from stagecheck.exporter.catalogue import METRICS, MetricSpec, series_names

__all__ = ["METRICS", "MetricSpec", "series_names"]
