"""Exceptions: one class per broken input rule, each also a ``ValueError``.

Every message names the layer, the feature or column, the problem and the fix.
"""

from __future__ import annotations

__all__ = [
    "CoordinateError",
    "CoverageError",
    "DuplicateIdError",
    "EmptyLayerError",
    "GeometryError",
    "InputLayerError",
    "MissingColumnError",
    "MissingIdError",
    "NetworkError",
    "NoCrsError",
    "PresetError",
    "StudyFileError",
    "UnknownCategoryError",
    "ValueColumnError",
]


class CoverageError(Exception):
    """Base class of every error raised on purpose by service-coverage."""


class StudyFileError(ValueError, CoverageError):
    """The study file (TOML) is malformed, has unknown keys or wrong types."""


class InputLayerError(ValueError, CoverageError):
    """An input layer is missing, unreadable or violates the input contract."""

    def __init__(self, layer: str, problem: str, fix: str) -> None:
        self.layer = layer
        self.problem = problem
        self.fix = fix
        super().__init__(f"{layer} layer: {problem}. Fix: {fix}")


class NoCrsError(InputLayerError):
    """A layer carries no coordinate reference system."""


class MissingColumnError(InputLayerError):
    """A required column is absent."""


class DuplicateIdError(InputLayerError):
    """Ids that must be unique are repeated."""


class MissingIdError(InputLayerError):
    """Ids are empty or null."""


class UnknownCategoryError(InputLayerError):
    """A facility category is not in the vocabulary."""


class EmptyLayerError(InputLayerError):
    """A layer has no features."""


class GeometryError(InputLayerError):
    """Geometries are empty, invalid or of the wrong type."""


class ValueColumnError(InputLayerError):
    """A numeric column is non-numeric, negative or missing values."""


class CoordinateError(InputLayerError):
    """Coordinates do not fit the declared CRS, or layers do not meet."""


class NetworkError(InputLayerError):
    """The road network is missing, empty or unusable."""


class PresetError(ValueError, CoverageError):
    """A target preset is unknown or malformed."""
