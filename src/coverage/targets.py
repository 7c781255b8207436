"""Target presets: plan targets as data files, each row citing its source."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from coverage.errors import PresetError

PRESET_COLUMNS = (
    "indicator",
    "scope",
    "target",
    "year",
    "binding",
    "wording_zh",
    "wording_en",
    "source",
)
SCOPES = ("urban", "rural", "all")


@dataclass(frozen=True)
class Target:
    """One plan target."""

    indicator: str
    scope: str
    target: float
    year: int
    binding: str
    wording_zh: str
    wording_en: str
    source: str
    preset: str = ""
    #: The citation in Chinese (the shipped presets' ``source_zh`` column; else ``source``).
    source_zh: str = ""


def shipped_presets() -> list[str]:
    """Names of the presets shipped with the package."""
    folder = resources.files("coverage") / "presets"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))


def load_preset(name_or_path: str, base_dir: Path | None = None) -> list[Target]:
    """Load a shipped preset by name, or a user preset CSV by path.

    Parameters
    ----------
    name_or_path
        A shipped preset name (see :func:`shipped_presets`) or a CSV path.
    base_dir
        Folder relative paths are read from (the study file's folder).

    Returns
    -------
    list of Target
        The preset's rows.

    Examples
    --------
    >>> [(t.indicator, t.target) for t in load_preset("suining-2022")]
    [('A1_service_circle', 0.6), ('C2_area_min_300m2', 0.7)]
    """
    if name_or_path in shipped_presets():
        text = (resources.files("coverage") / "presets" / f"{name_or_path}.csv").read_text("utf-8")
        where = f"preset {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        if not path.suffix.lower() == ".csv" or not path.is_file():
            raise PresetError(
                f"target preset {name_or_path!r} is neither a shipped preset "
                f"({', '.join(shipped_presets())}) nor an existing CSV file"
            )
        text = path.read_text("utf-8")
        where = f"preset file {path}"
        name_or_path = path.stem
    from io import StringIO

    frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in PRESET_COLUMNS if c not in frame.columns]
    if missing:
        raise PresetError(
            f"{where}: missing column(s) {', '.join(missing)}; needs {', '.join(PRESET_COLUMNS)}"
        )
    targets = []
    for i, row in frame.iterrows():
        try:
            value = float(row["target"])
            year = int(row["year"])
        except ValueError as exc:
            raise PresetError(
                f"{where}, row {int(str(i)) + 2}: target and year must be numbers ({exc})"
            ) from exc
        if not 0 <= value <= 1:
            raise PresetError(
                f"{where}, row {int(str(i)) + 2}: target {value} is not a share between 0 and 1"
            )
        if row["scope"] not in SCOPES:
            raise PresetError(
                f"{where}, row {int(str(i)) + 2}: scope {row['scope']!r} is not one of {SCOPES}"
            )
        targets.append(
            Target(
                row["indicator"],
                row["scope"],
                value,
                year,
                row["binding"],
                row["wording_zh"],
                row["wording_en"],
                row["source"],
                name_or_path,
                str(row.get("source_zh") or row["source"]),
            )
        )
    keys = [(t.indicator, t.scope) for t in targets]
    if len(set(keys)) != len(keys):
        raise PresetError(f"{where}: an (indicator, scope) pair appears twice")
    return targets


def load_presets(names: tuple[str, ...] | list[str], base_dir: Path | None = None) -> list[Target]:
    """Load several presets (e.g. a plan's 2022 and 2025 targets) in the order given.

    Each target keeps the name of its preset (a user file: its file name without
    ``.csv``); two presets of the same name are refused.
    """
    out: list[Target] = []
    seen: set[str] = set()
    for name in names:
        targets = load_preset(name, base_dir)
        label = targets[0].preset if targets else name
        if label in seen:
            raise PresetError(f"target preset {label!r} is named twice")
        seen.add(label)
        out += targets
    return out
