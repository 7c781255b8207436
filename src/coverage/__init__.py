"""service-coverage: coverage of community services against plan targets.

The import package is ``coverage``; it is *not* coverage.py. Install it in a
dedicated virtual environment that does not hold coverage.py or pytest-cov.

Pipeline stages, one module each: :mod:`coverage.inputs` (read and validate the
four layers) -> :mod:`coverage.network` (walk and cycle graphs) ->
:mod:`coverage.demand` (population to demand points) -> :mod:`coverage.reach`
(snapping and shortest times) -> :mod:`coverage.indicators` (coverage, targets,
shortfalls) -> :mod:`coverage.maps` / :mod:`coverage.report` -> :mod:`coverage.cli`.
"""

__version__ = "0.1.0"

#: Marker that the ``coverage`` on ``sys.path`` is this project (see tests).
DISTRIBUTION = "service-coverage"
