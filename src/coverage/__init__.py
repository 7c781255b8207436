"""service-coverage: coverage of community services against plan targets.

The import package is ``coverage``; it is *not* coverage.py. Install it in a
dedicated virtual environment that does not hold coverage.py or pytest-cov.

Pipeline stages, one module each: :mod:`coverage.layers` (read and check the
layers once: :mod:`coverage.inputs`, :mod:`coverage.network`) ->
:mod:`coverage.demand` (population to demand points) -> :mod:`coverage.reach`
(snapping and shortest times) -> :mod:`coverage.indicators` (coverage, targets,
shortfalls) -> :mod:`coverage.pipeline` (the loaded study and its what-ifs) ->
:mod:`coverage.maps` / :mod:`coverage.report` -> :mod:`coverage.cli`. Shared
words sit in :mod:`coverage.terms`, which imports nothing of the package.

The supported Python API is what :data:`__all__` names (``docs/api.md``).
Names are imported on first use, so ``import coverage`` loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Marker that the ``coverage`` on ``sys.path`` is this project (see tests).
DISTRIBUTION = "service-coverage"

#: Public name -> module it lives in.
_PUBLIC = {
    "Study": "coverage.config",
    "load_study": "coverage.config",
    "demo_study": "coverage.config",
    "Layers": "coverage.layers",
    "load_layers": "coverage.layers",
    "layers_from_frames": "coverage.layers",
    "LoadedStudy": "coverage.pipeline",
    "StudyResult": "coverage.pipeline",
    "run_study": "coverage.pipeline",
    "site_study": "coverage.sites",
    "SitingResult": "coverage.sites",
    "write_outputs": "coverage.report",
    "headline": "coverage.report",
    "CoverageError": "coverage.errors",
    "InputLayerError": "coverage.errors",
    "StudyFileError": "coverage.errors",
}

__all__ = ["DISTRIBUTION", "__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'coverage' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
