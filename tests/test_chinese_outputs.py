"""With ``--lang zh`` every word a reader sees is Chinese, beyond ids, units and user data.

The demo is sited (three community complexes) through the command line in
Chinese; the console, the report's visible text and the workbook's sheet names
and headers are then searched for Latin words. Allowed are: the user's own
strings (the study's name, attribution, file names, community and candidate
ids), the tool's ids (indicators, presets, categories in ids, column and
setting names quoted in messages), package names in the versions line, and a
short list of units and acronyms.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from coverage.cli import main

#: Units, acronyms, proper names and coordinate axes a Chinese reader is shown as they are.
ALLOWED = {
    "EPSG", "UTC", "MB", "SHA", "OSM", "OpenStreetMap", "ODbL", "MCLP", "SFCA", "WGS",
    "GCJ", "BD", "km", "m", "service-coverage", "docs", "METHOD", "md", "csv", "xlsx",
    "XX", "x", "y",
}  # fmt: skip
#: Setting and column names quoted in messages (the user types them).
QUOTED = ("[inputs] surveyed_categories", "[inputs] workplaces", "floor_area_m2", "capacity",
          "workers", "best_k_new")  # fmt: skip

LATIN = re.compile(r"[A-Za-z][A-Za-z_\-]*")


class _Visible(HTMLParser):
    """Text a reader sees: everything outside scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


@pytest.fixture(scope="module")
def sited_zh(tmp_path_factory):
    """The demo sited in Chinese through the command line: (folder, console text)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("zh") / "out"
    console = io.StringIO()
    with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
        code = main(["site", "--lang", "zh", "--p", "3", "--out", str(out)])
    assert code == 0, console.getvalue()
    return out, console.getvalue().replace(str(out), " ")


def _user_words(folder) -> list[str]:
    """Strings of the user's data and the tool's ids, to take out before the search."""
    from coverage.catalogue import load_catalogue
    from coverage.targets import shipped_presets

    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    words = [run["study"], run["settings"].get("attribution") or ""]
    words += [p.rsplit("/", 1)[-1] for p in (v["path"] for v in run["inputs"].values())]
    words += [f"{k} {v}" for k, v in run["versions"].items()]
    words += list(load_catalogue()) + list(shipped_presets()) + list(QUOTED)
    words += ["A1_service_circle", "A2_rural_cycling", "A3_complex_radius_straight",
              "A3_complex_radius_network", "category_coverage"]  # fmt: skip
    return sorted((w for w in words if w), key=len, reverse=True)


def _leaks(text: str, folder) -> list[str]:
    # ids: communities, demand cells, candidates, hashes, indicators and their columns; files
    ids = (
        r"POA-\d+|[0-9a-f]{15}|node-\d+|[0-9a-f]{12}|[A-DMWTRP]\d+(?:_\w+)?|cov_(?:walk|cycle)_\w+"
        r"|[\w.-]+\.(?:csv|xlsx|json|gpkg|html|geojson|pbf|tif)"
    )
    text = re.sub(rf"(?<![\w-])(?:{ids})(?![\w-])", " ", text)
    for word in _user_words(folder):
        text = text.replace(word, " ")
    return sorted({w for w in LATIN.findall(text) if w.strip("-_") not in ALLOWED})


def test_chinese_report_shows_no_english(sited_zh):
    folder, _ = sited_zh
    parser = _Visible()
    parser.feed((folder / "report.html").read_text(encoding="utf-8"))
    assert _leaks(" ".join(parser.parts), folder) == []


def test_chinese_console_shows_no_english(sited_zh):
    folder, console = sited_zh
    assert "选址" in console and "说明：" in console and "读取并检查输入图层" in console
    assert _leaks(console, folder) == []


def test_chinese_workbook_sheets_and_headers_show_no_english(sited_zh):
    from openpyxl import load_workbook

    folder, _ = sited_zh
    book = load_workbook(folder / "indicators.xlsx", read_only=True)
    words = list(book.sheetnames)
    for sheet in book.worksheets:
        header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        words += [str(v) for v in header if v is not None]
    book.close()
    assert _leaks(" ".join(words), folder) == []


def test_the_leak_check_can_fail(sited_zh):
    folder, _ = sited_zh
    assert _leaks("覆盖率 residents beyond 15 min", folder) == ["beyond", "min", "residents"]


def test_the_report_maps_the_proposed_sites(sited_zh):
    folder, _ = sited_zh
    page = (folder / "report.html").read_text(encoding="utf-8")
    figure = page[page.index('id="map-sites"') :]
    figure = figure[: figure.index("</figure>")]
    assert "<svg" in figure and "拟建社区综合体选址" in figure
    assert "1 500" in figure or "1500" in figure  # the rule in the caption
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", figure)
    # numbered in build order, with legend, metric scale bar and north arrow
    assert {"1", "2", "3", "拟建点", "新增覆盖范围", "北"} <= set(texts)
    assert any(t.endswith(("公里", "米")) for t in texts)
