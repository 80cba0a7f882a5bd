"""The wheel as a user installs it: every module of the source tree is in it (packages are
discovered, not listed by hand), each imports from the installed copy, and ``stagecheck --help``
works from another folder. Built and installed with no network: no build isolation, and the
temporary venv sees this venv's dependencies through a ``.pth`` line (this venv's own
editable-install hook is not processed from there, so only the wheel provides ``stagecheck``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = pytest.mark.integration

SKIP = ("__main__",)  # runs a program when imported


def _source_modules() -> set[str]:
    names = set()
    trees = ((REPO / "stagecheck", "stagecheck"), (REPO / "reporting", "stagecheck.reporting"))
    for root, prefix in trees:
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            if "__pycache__" in rel.parts or rel.parts[:1] == ("reporting",):
                continue  # stagecheck/reporting is the symlink to reporting/, counted once
            parts = [p for p in rel.parts if p != "__init__"]
            names.add(".".join([prefix, *parts]))
    return names


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy of what the wheel is built from: an in-tree build would leave build/ behind (and
    # reuse a stale one); the symlink stagecheck/reporting stays a symlink.
    source = tmp / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    for name in ("stagecheck", "reporting"):
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("stagecheck-*.whl")
    with zipfile.ZipFile(wheel) as z:
        files = z.namelist()
    in_wheel = {
        f[:-3].replace("/", ".").removesuffix(".__init__") for f in files if f.endswith(".py")
    }
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps_from_dev_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
         str(wheel)],
        capture_output=True, text=True, timeout=300, cwd=tmp,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    assert any(f.startswith("stagecheck/demo/data/") and f.endswith(".jsonl") for f in files)
    return venv, in_wheel, Path(site)


def test_every_source_module_is_in_the_wheel(installed):
    _, in_wheel, _ = installed
    missing = _source_modules() - in_wheel
    assert not missing, sorted(missing)
    assert not {m for m in in_wheel if not m.startswith("stagecheck")}  # no generic top level


def test_every_module_imports_from_the_installed_wheel(installed, tmp_path):
    venv, in_wheel, site = installed
    modules = sorted(m for m in in_wheel if m.rsplit(".", 1)[-1] not in SKIP)
    script = (
        "import importlib, json, sys\n"
        "where = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    where[name] = importlib.import_module(name).__file__\n"
        "print(json.dumps(where))\n"
    )
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, json.dumps(modules)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    where = json.loads(proc.stdout.splitlines()[-1])
    outside = {m: f for m, f in where.items() if not str(f).startswith(str(site))}
    assert not outside, outside  # every module came from the wheel, none from the checkout


def test_the_console_script_runs_from_another_folder(installed, tmp_path):
    venv, _, _ = installed
    proc = subprocess.run(
        [str(venv / "bin" / "stagecheck"), "--help"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for command in ("run", "validate", "report", "compare", "capacity", "demo"):
        assert command in proc.stdout
