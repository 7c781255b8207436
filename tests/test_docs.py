"""The Python examples of the README ("Python" section) and of docs/api.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_has_a_python_section_with_an_example():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python", 1)[1].split("\n## ", 1)[0]
    assert python_blocks(section)


@pytest.mark.parametrize("page", ["README.md", "docs/api.md"])
def test_python_examples_run(page, capsys):
    matplotlib.use("Agg")
    text = (ROOT / page).read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert blocks, f"{page} has no Python example"
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, f"{page}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "%" in out or "->" in out
