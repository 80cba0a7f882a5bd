"""Parquet datasets are an extra (``pip install 'stagecheck[parquet]'``): the extra names what
pandas needs to read Parquet, and without it a Parquet dataset is one line naming the extra."""

from __future__ import annotations

import importlib.util

import pytest

from stagecheck.datasets.reader import read_records
from stagecheck.errors import InputError
from tests.support import REPO

pytestmark = pytest.mark.unit


def test_the_parquet_extra_installs_pyarrow():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+ (this is older)")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["parquet"]
    assert any(req.startswith("pyarrow") for req in extra)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None,
                    reason="pyarrow is installed: this checks the message shown without it")
def test_without_the_extra_a_parquet_dataset_says_which_extra_to_install(tmp_path):
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(InputError) as info:
        list(read_records(path, "parquet", []))
    assert str(info.value).endswith("pip install 'stagecheck[parquet]'")
    assert info.value.exit_code == 2
