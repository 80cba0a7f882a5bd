"""Validation datasets: reading, preparing rows, feeding them to users."""

from stagecheck.datasets.feeder import RowFeeder
from stagecheck.datasets.prepared import PreparedDataset, PreparedRow, RowTable, load_dataset
from stagecheck.datasets.reader import read_records

__all__ = [
    "PreparedDataset",
    "PreparedRow",
    "RowFeeder",
    "RowTable",
    "load_dataset",
    "read_records",
]
