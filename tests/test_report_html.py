"""The publishable outputs: report.html (self-contained, en and zh) and indicators.xlsx."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import openpyxl
import pandas as pd
import pytest

import coverage.report_html as report_html_mod
from coverage.config import demo_study
from coverage.pipeline import run_study
from coverage.report import run_record, write_outputs, write_xlsx
from coverage.report_html import cumulative_share, headline_rows, report_html

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo run, written once in English and once in Chinese."""
    result = run_study(demo_study())
    out = {}
    for lang in ("en", "zh"):
        folder = tmp_path_factory.mktemp(f"report-{lang}")
        out[lang] = (folder, write_outputs(result, folder, lang=lang, elapsed_s=1.5))
    return result, out


def page(demo, lang):
    folder, _ = demo[1][lang]
    return (folder / "report.html").read_text(encoding="utf-8")


class Tables(HTMLParser):
    """Cell texts of every table, by the table's class."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class", ""), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span" and self._cell is not None:
            self._cell.append(" | ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(text, cls):
    parser = Tables()
    parser.feed(text)
    return [rows for c, rows in parser.tables if c == cls]


def test_outputs_are_written_and_recorded(demo):
    for lang in ("en", "zh"):
        folder, paths = demo[1][lang]
        assert paths["report"] == folder / "report.html"
        assert paths["xlsx"] == folder / "indicators.xlsx"
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        assert run["outputs"]["report"] == "report.html"
        assert run["outputs"]["xlsx"] == "indicators.xlsx"
        assert run["versions"]["matplotlib"] != "not installed"
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no .partial-* left


@pytest.mark.parametrize(
    ("lang", "scope", "share", "status"),
    [("en", "urban", "{:.1f} %", "short"), ("zh", "城市社区", "{:.1f}%", "未达标")],
)
def test_headline_figures_equal_indicators_csv(demo, lang, scope, share, status):
    folder, _ = demo[1][lang]
    ind = pd.read_csv(folder / "indicators.csv")
    a1 = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == "urban")].iloc[0]
    rows = [r for t in tables(page(demo, lang), "headline") for r in t]
    row = next(r for r in rows if "A1_service_circle" in r[0] and r[2] == scope)
    assert row[4] == share.format(100 * a1["target"]).replace(".0", "")
    assert row[5] == share.format(100 * a1["value"])
    assert row[6] == status
    assert row[7] == f"+{100 * a1['gap']:.1f}"
    assert row[8] == f"{a1['total_population'] - a1['covered_population']:,.0f}"
    assert row[9] == f"{a1['communities_fully_covered']}/{a1['communities_with_residents']}"
    assert row[10] == "2025"
    # the spread between communities, under the plan's wording
    assert f"{a1['gini']:.2f}" in row[1] and f"{a1['palma']:.2f}" in row[1]
    assert share.format(100 * a1["below_half_target_share"]) in row[1]
    assert "遂宁" in row[1]  # the plan's source under its wording
    # every aggregate row with a target and data is in the table, and for reference the
    # first aggregate row of A1, A1 for older residents, the redundancy and walking-profile
    # indicators; targets (and reference indicators) without data get one line each in
    # their own table
    every = ind[ind["scope"].isin(["all", "urban", "rural"])]
    agg = every[every["target"].notna()]
    with_data = agg[~agg["status"].isin(["no data", "not applicable"])]
    ref = every[every["indicator"].str.match(r"A1_service_circle|R\d|P\d") & every["target"].isna()]
    shown = ref[ref["status"] != "no data"]["indicator"].nunique()
    assert shown >= 4  # A1, A1 older, R1, R3, P1, P3 in the demo
    more = [r for t in tables(page(demo, lang), "more") for r in t][1:]  # R and P: own table
    assert len(rows) == len(tables(page(demo, lang), "headline")) + len(with_data) + 2
    assert len(more) == shown - 2 and all(re.search(r"[RP]\d_", r[0]) for r in more)
    missing = [r for t in tables(page(demo, lang), "nodata") for r in t][1:]
    no_data = pd.concat([agg, ref])
    no_data = no_data[no_data["status"] == "no data"]
    assert len(missing) == no_data["indicator"].nunique() > 0


def test_both_languages_carry_their_labels(demo):
    en, zh = page(demo, "en"), page(demo, "zh")
    assert '<html lang="en">' in en and '<html lang="zh-CN">' in zh
    for text in (
        "coverage report",
        "Indicators against plan targets",
        "uncovered residents",
        "gap (pp)",
        "15-minute community service circle",
        "primary school",
        "Cumulative share of residents by walking time",
        "no community_complex facilities were given",
        "walk 4 km/h; cycle 12 km/h",
        "Target preset: suining-2025",
    ):
        assert text in en, text
    for text in (
        "覆盖率评估报告",
        "指标与规划目标对照",
        "未覆盖人口",
        "差距（百分点）",
        "目标",
        "未达标",
        "城市社区“15分钟社区服务圈”覆盖率",
        "小学",
        "步行",
        "骑行",
        "15分钟",
        "步行15分钟",
        "未提供社区综合体设施",
        "步行 4 公里/小时",
        "目标方案：suining-2025",
    ):
        assert text in zh, text
    assert "Indicators against plan targets" not in zh


def test_the_page_loads_nothing(demo):
    for lang in ("en", "zh"):
        text = page(demo, lang)
        lower = text.lower()
        for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import"):
            assert tag not in lower, tag
        assert not re.search(r"\bsrc\s*=", lower)
        # in-page links, and the map's colour bar inlined as an image (nothing fetched)
        refs = re.findall(r'href="([^"]*)"', text)
        assert all(h.startswith(("#", "data:image/png;base64,")) for h in refs)
        assert set(re.findall(r"url\(([^)]*)\)", text)) <= {
            f"#{i}" for i in re.findall(r'id="([^"]+)"', text)
        }
        assert "<?xml" not in text and "<!DOCTYPE svg" not in text
        assert "default-src 'none'" in text  # the browser refuses any load that slipped in


def test_charts_are_inline_svg_with_unique_ids(demo):
    text = page(demo, "zh")
    assert text.count("<svg") == 4  # the map and three charts
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r'href="#([^"]+)"', text):
        assert ref in ids
    # text stays text, so the viewer's fonts render the Chinese labels
    assert "<text" in text and "居民比例" in text and "POA-01" in text


def test_population_account_and_method_are_stated(demo):
    result, _ = demo
    text = page(demo, "en")
    account = tables(text, "account")[0]
    assert ["residents in the population input", "812,935"] in account
    assert ["off-network residents, walk (not covered)", "1,224"] in account
    run = json.loads((demo[1]["en"][0] / "run.json").read_text())
    digest = run["inputs"]["network"]["sha256"]
    assert f'title="{digest}"' in text and digest[:12] in text
    assert "nearest point on the nearest street segment" in text
    assert "walk 300 m, cycle 1000 m" in text
    assert "IPEA" in text and "OpenStreetMap contributors" in text
    for note in result.notes:
        assert str(note) in text


def test_shortfall_list_is_capped(demo):
    result, _ = demo
    rows = tables(page(demo, "en"), "shortfalls")[0][1:]
    total = len(result.shortfalls)
    assert len(rows) == min(total, report_html_mod.SHORTFALL_ROWS)
    uncovered = [float(r[8].replace(",", "")) for r in rows]
    assert uncovered == sorted(uncovered, reverse=True)
    if total > report_html_mod.SHORTFALL_ROWS:
        assert f"the other {total - report_html_mod.SHORTFALL_ROWS} are in shortfalls.csv" in page(
            demo, "en"
        )


def test_user_strings_are_escaped(demo):
    result, _ = demo
    comm = result.communities.copy()
    worst = result.shortfalls.sort_values("uncovered_population").iloc[-1]["community_id"]
    comm.loc[comm["community_id"] == worst, "name"] = EVIL
    evil = dataclasses.replace(
        result,
        communities=comm,
        study=dataclasses.replace(
            result.study, name="<script>alert(1)</script>", attribution='"><b>credits</b>'
        ),
        notes=[*result.notes, "<i>note</i>"],
    )
    run = run_record(evil, 1.0)
    for lang in ("en", "zh"):
        text = report_html(evil, run, lang)
        assert EVIL not in text and "<script" not in text
        assert "<b>credits" not in text and "<i>note" not in text
        assert text.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # shortfall list and chart
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_presets_and_rule_rows(demo):
    result, _ = demo
    ind = result.indicators
    targeted = ind[ind["target"].notna() & ind["scope"].isin(["all", "urban"])]
    other = targeted.assign(preset="my-plan", target=0.5)
    rule = targeted.iloc[[0]].assign(
        indicator="B3_village_clinic",
        mode="rule",
        minutes_or_metres=np.nan,
        categories="health",
        preset="my-plan",
        note="",
    )
    table = pd.concat([ind, other, rule], ignore_index=True)
    text = report_html(dataclasses.replace(result, indicators=table), run_record(result), "en")
    assert "Target preset: suining-2025" in text and "Target preset: my-plan" in text
    rows = [r for t in tables(text, "headline") for r in t]
    b3 = next(r for r in rows if "B3_village_clinic" in r[0])
    assert b3[3] == "rule"
    # without a preset column the table is one group without a heading
    plain = dataclasses.replace(result, indicators=ind.drop(columns="preset"))
    text = report_html(plain, run_record(result), "en")
    assert "Target preset" not in text and "A1_service_circle" in text


def test_headline_rows_groups():
    t = pd.DataFrame(
        {
            "indicator": ["A1_service_circle", "A1_service_circle", "A2_rural_cycling", "x"],
            "scope": ["all", "urban", "rural", "community:1"],
            "target": [np.nan, 1.0, 0.8, 1.0],
            "preset": ["", "b", "a", "b"],
        }
    )
    assert [(n, len(r)) for n, r in headline_rows(t)] == [("b", 1), ("a", 1), (None, 1)]
    assert [(n, len(r)) for n, r in headline_rows(t.drop(columns="preset"))] == [
        ("", 2),
        (None, 1),
    ]


def test_cumulative_curves_meet_the_indicators(demo):
    result, _ = demo
    ind = result.indicators
    pop = result.demand.points["population"].to_numpy()
    for mode in ("walk", "cycle"):
        for k, cat in enumerate(result.categories):
            row = ind[
                (ind["indicator"] == "category_coverage")
                & (ind["scope"] == "all")
                & (ind["mode"] == mode)
                & (ind["minutes_or_metres"] == 15)
                & (ind["categories"] == cat)
            ].iloc[0]
            share = cumulative_share(result.reach[mode].minutes[:, k], pop, [15.0])[0]
            assert share == pytest.approx(row["value"], abs=1e-9)


def test_cumulative_share_by_hand():
    got = cumulative_share([1.0, 5.0, np.inf, 2.0], [1.0, 2.0, 3.0, 4.0], [0, 1, 4.9, 5, 1e9])
    assert got == pytest.approx([0.0, 0.1, 0.5, 0.7, 0.7])
    assert cumulative_share([1.0], [0.0], [5.0]).tolist() == [0.0]


def test_charts_without_a_cjk_font_do_not_warn(demo, monkeypatch):
    """Measured with DejaVu Sans only, Chinese labels must not leak glyph warnings."""
    result, _ = demo
    monkeypatch.setattr(report_html_mod, "_MPL_CJK_FONTS", ())
    text = report_html(result, run_record(result), "zh")  # warnings are errors here
    assert "居民比例" in text


def test_unknown_language_is_refused(demo):
    with pytest.raises(ValueError, match="lang must be one of en, zh, got 'fr'"):
        report_html(demo[0], {}, "fr")


def test_xlsx_holds_the_tables_and_settings(demo):
    folder, _ = demo[1]["en"]
    book = pd.read_excel(folder / "indicators.xlsx", sheet_name=None)
    assert list(book) == [
        "headline",
        "indicators",
        "community_indicators",
        "communities",
        "shortfalls",
        "settings",
    ]
    ind = pd.read_csv(folder / "indicators.csv")
    aggregate = ind["scope"].isin(["all", "urban", "rural"])
    parts = pd.concat([book["indicators"], book["community_indicators"]], ignore_index=True)
    pd.testing.assert_frame_equal(
        parts, pd.concat([ind[aggregate], ind[~aggregate]], ignore_index=True), check_dtype=False
    )
    for sheet, csv in (("communities", "communities.csv"), ("shortfalls", "shortfalls.csv")):
        pd.testing.assert_frame_equal(book[sheet], pd.read_csv(folder / csv), check_dtype=False)
    head = book["headline"]
    assert set(head["status"]) <= {"met", "short"} and "A1_service_circle" in set(head["indicator"])
    # shares are kept as shares and shown as percentages; CSVs open in Excel on Chinese Windows
    ws = openpyxl.load_workbook(folder / "indicators.xlsx")["headline"]
    value_col = [c.value for c in ws[1]].index("value") + 1
    assert ws.cell(row=2, column=value_col).number_format == "0.0%"
    assert (folder / "indicators.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    settings = dict(zip(book["settings"]["key"], book["settings"]["value"], strict=True))
    run = json.loads((folder / "run.json").read_text())
    assert settings["inputs.network.sha256"] == run["inputs"]["network"]["sha256"]
    assert settings["settings.speeds.walk_kmh"] == 4.0
    assert settings["versions.service-coverage"] == run["versions"]["service-coverage"]
    wb = openpyxl.load_workbook(folder / "indicators.xlsx", read_only=False)
    assert all(wb[name].freeze_panes == "A2" for name in book)


def test_xlsx_text_never_becomes_a_formula(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx({"t": pd.DataFrame({"name": ['=HYPERLINK("x")', "社区"]})}, path)
    cell = openpyxl.load_workbook(path)["t"]["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("x")'


def _chromium(args, tmp_path):
    exe = shutil.which("chromium")
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--proxy-server=127.0.0.1:9",  # nothing may load: any request would fail
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_renders_in_a_real_browser(demo, lang, tmp_path):
    folder, _ = demo[1][lang]
    url = (folder / "report.html").as_uri()
    dom = _chromium(["--dump-dom", url], tmp_path).stdout
    assert '<table class="headline">' in dom
    assert dom.count("<svg") == 4 and 'id="chart-communities"' in dom
    assert 'id="map-communities"' in dom  # the static map: scale bar, north arrow, legend
    shot = tmp_path / "shot.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,3000", url], tmp_path)
    assert shot.stat().st_size > 20_000
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (3000, 1280)
    assert (pixels < 200).mean() > 0.02  # text, tables and bars, not a blank page


def test_chart_names_are_cut_by_display_width():
    assert report_html_mod._shorten("POA-01", 36) == "POA-01"
    assert report_html_mod._shorten("河" * 18, 36) == "河" * 18
    assert report_html_mod._shorten("河" * 19, 36) == "河" * 17 + "…"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_demo_report_prints_to_at_most_ten_a4_pages(demo, lang, tmp_path):
    """Printed by Chromium (its own print path, the report's @page A4 stylesheet)."""
    import re

    folder, _ = demo[1][lang]
    pdf = tmp_path / "report.pdf"
    _chromium(
        [f"--print-to-pdf={pdf}", "--no-pdf-header-footer", (folder / "report.html").as_uri()],
        tmp_path,
    )
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 1 <= pages <= 10, pages
    # A4 portrait: 595 x 842 points
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box and abs(float(box[1]) - 595) < 2 and abs(float(box[2]) - 842) < 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_opens_with_its_findings(demo, lang):
    text = page(demo, lang)
    assert text.index('id="findings"') < text.index('id="summary"') < text.index('id="headline"')
    findings = text[text.index('id="findings"') : text.index('id="summary"')]
    folder, _ = demo[1][lang]
    ind = pd.read_csv(folder / "indicators.csv")
    a1 = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == "urban")].iloc[0]
    value = f"{100 * a1['value']:.1f}" + ("%" if lang == "zh" else " %")
    assert value in findings
    assert ("short by" in findings) if lang == "en" else ("个百分点" in findings)
    worst = ("Furthest short of" if lang == "en" else "差距最大的社区") in findings
    no_data = ("cannot be measured" if lang == "en" else "无法由现有输入数据测算") in findings
    assert worst and no_data


def test_before_after_status_cells_are_not_nested(tmp_path):
    """A site run's before/after table: one cell per column, statuses not wrapped twice."""
    from coverage.cli import main

    assert main(["site", "--p", "1", "--out", str(tmp_path), "--quiet", "--offline"]) == 0
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<td><td" not in text and "</td></td>" not in text
    rows = [r for t in tables(text, "before_after") for r in t]
    assert rows and len({len(r) for r in rows}) == 1  # every row as wide as the header


def test_shortfall_reasons_are_chinese_in_the_chinese_report(demo):
    """Reasons are carried as messages and rendered per language, not English text parsed back."""
    rows = [r for t in tables(page(demo, "zh"), "shortfalls") for r in t][1:]
    assert rows
    for row in rows:
        reasons, worst = row[-2], row[-1]
        assert not re.search(r"[A-Za-z]{2,}", reasons + worst), row
    english = [r for t in tables(page(demo, "en"), "shortfalls") for r in t][1:]
    assert any("residents beyond" in r[-2] or "(needs" in r[-2] for r in english)


def test_the_chinese_workbook_speaks_chinese(demo):
    folder, _ = demo[1]["zh"]
    book = pd.read_excel(folder / "indicators.xlsx", sheet_name=None)
    assert list(book)[:5] == ["主要指标", "指标汇总", "各社区指标", "社区", "未达标社区"]
    head = book["主要指标"]
    assert {"指标", "范围", "目标", "现状值", "状态"} <= set(head.columns)
    assert set(head["状态"]) <= {"达标", "未达标"} and set(head["范围"]) <= {
        "全域",
        "城市社区",
        "乡村社区",
    }
    reasons = book["未达标社区"]["缺少的设施类别（超出阈值的居民）"].dropna().astype(str)
    assert reasons.str.contains("名居民超出|要求").all()
    ws = openpyxl.load_workbook(folder / "indicators.xlsx")["主要指标"]
    col = [c.value for c in ws[1]].index("现状值") + 1
    assert ws.cell(row=2, column=col).number_format == "0.0%"
