"""The import name `coverage` must be this project, never coverage.py."""

from importlib import metadata
from pathlib import Path

import pytest

import coverage


def test_import_coverage_is_this_package():
    assert getattr(coverage, "DISTRIBUTION", None) == "service-coverage"
    assert Path(coverage.__file__).resolve().parent.name == "coverage"
    assert (Path(coverage.__file__).resolve().parent / "reach.py").is_file()
    assert not hasattr(coverage, "Coverage"), "coverage.py shadows this package"


def test_coverage_py_is_not_installed():
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("coverage")


def test_distribution_metadata():
    assert metadata.version("service-coverage") == coverage.__version__
