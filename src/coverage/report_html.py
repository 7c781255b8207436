"""The publishable report: one self-contained HTML page per run, in English or Chinese.

:func:`report_html` turns a finished run and its run record into a page a
planner can send by e-mail: the population account, the headline indicators
against their plan targets, charts (coverage by community; cumulative share of
residents by travel time per category), the shortfall list, and the method and
settings with the input hashes.

The page loads nothing: the CSS is inline, the charts are inline SVG drawn by
matplotlib with text kept as text (so the viewer's fonts render Chinese), and a
Content-Security-Policy forbids scripts and every external resource. Every
user-provided string (names, ids, categories, notes, study name, attribution)
is HTML-escaped.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from coverage.catalogue import AccessIndicator, indicator_label
from coverage.categories import MODE_LABELS as _MODES
from coverage.categories import STATUS_LABELS as _STATUS
from coverage.categories import label as category_label
from coverage.indicators import rounded_indicators
from coverage.maps import PALETTE
from coverage.messages import SCOPE_LABELS, Message, Note, render, render_all, word
from coverage.sites import rule_message
from coverage.terms import TOLERANCE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from coverage.pipeline import StudyResult

LANGS = ("en", "zh")

#: Fonts the page and the charts ask for, CJK first (the viewer's own fonts render the text).
FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"Hiragino Sans GB", "WenQuanYi Micro Hei", "SimHei", "Segoe UI", "Helvetica Neue", '
    "Arial, sans-serif"
)
#: CJK fonts matplotlib may measure chart text with, when installed.
_MPL_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Micro Hei",
    "SimHei",
)
#: Rows of the shortfall list shown on the page (the CSV has them all).
SHORTFALL_ROWS = 40
#: Communities drawn in the coverage-by-community chart (the lowest first).
CHART_COMMUNITIES = 100

#: Fixed labels; the Chinese terms follow the plans' wording.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "coverage report",
        "run": "Run finished {when} · service-coverage {version} · {elapsed} · CRS {crs}",
        "elapsed": "{s:.1f} s",
        "contents": "Contents",
        "summary": "Residents: the population account",
        "findings": "Findings",
        "finding_met": "{label} ({scope}): {value}, target {target} ({preset}) — met.",
        "finding_short": "{label} ({scope}): {value}, target {target} ({preset}) — short by {gap} percentage points; {uncovered} residents not covered.",
        "finding_worst": "Furthest short of “{label}”: {names}.",
        "finding_sites": "The {n} proposed sites would raise {label} ({scope}) from {before} to {after}.",
        "finding_nodata": "{n} targets cannot be measured from the inputs given (see “Targets without data”).",
        "finding_none": "No indicator of this run has a target with data.",
        "summary_lead": "Every resident of the population input is accounted for; off-network residents count as not covered.",
        "input_population": "residents in the population input",
        "used_population": "residents in communities (used)",
        "outside": "residents outside every community",
        "demand": "demand points (method)",
        "facilities": "facilities",
        "off_network": "off-network residents, {mode} (not covered)",
        "stranded": "of whom stranded beside a street cut off from the network",
        "off_network_facilities": "off-network facilities, {mode}",
        "account_mismatch": "The account does not add up: input − used − outside = {d:,.0f} residents.",
        "weak_demand": "Residents were spread over the network nodes of each community (community counts only): the weakest demand option.",
        "headline": "Indicators against plan targets",
        "headline_lead": "Value: population-weighted share of residents covered. Communities: fully covered / with residents. Gap: target − value, in percentage points (positive: short). Rule rows (mode “rule”): share of the applicable communities that comply; uncovered residents are those of the communities that do not.",
        "preset": "Target preset: {name}",
        "reference": "For reference (no target)",
        "equity_prefix": "Spread between communities: ",
        "items_line": "Items within reach of every resident: median community {median} of {n}; all {n}: {full} of {counted} communities",
        "equity_parts": "Gini {gini}|Palma {palma}|below half the target {below}",
        "more_heading": "Redundancy and walking profiles (no target)",
        "spread": "spread between communities",
        "equity_lead": "Spread between communities (aggregate rows): the Gini coefficient and the Palma ratio (best-served 10 % of residents over the worst-served 40 %) of community coverage weighted by residents, and the share of residents in communities below half the target.",
        "profiles": "walking profiles: residents over 60 {older:g} km/h, children {child:g} km/h",
        "indicator": "indicator",
        "wording": "plan wording",
        "scope": "scope",
        "mode_threshold": "mode, threshold",
        "target": "target",
        "value": "value",
        "status": "status",
        "gap": "gap (pp)",
        "uncovered": "uncovered residents",
        "communities": "communities",
        "target_year": "target year",
        "source": "source",
        "note": "note",
        "no_headline": "No indicator of this run has a target.",
        "no_data_heading": "Targets without data",
        "no_data_lead": "These targets (and reference indicators, without target) cannot be measured from the inputs given; supply what each row names to measure them: missing facilities in the facilities layer, or, if the study area has none, their categories listed in [inputs] surveyed_categories.",
        "no_data_cols": "indicator|scopes|target|what to supply",
        "not_applicable_line": "Targets that apply to no community of this study: {names}.",
        "charts": "Charts",
        "chart_communities": "Coverage by community: {label}",
        "map_title": "Map: {label} by community",
        "map_caption": "Communities coloured by the share of their residents covered; outlined in red: below a target; dots: facilities; hatched: the largest areas of uncovered residents. Scale bar and north arrow in the study's projection ({crs}). Data: {credits}.",
        "map_legend_share": "share of residents covered",
        "map_legend_short": "below target",
        "map_north": "N",
        "sites_map_title": "Map: proposed {category} sites and the residents they newly cover",
        "sites_map_caption": "Numbered in build order; shaded: the demand each site newly covers ({rule}){existing}. Scale bar and north arrow in the study's projection ({crs}). Data: {credits}.",
        "sites_map_dots": "; grey dots: existing {category} facilities",
        "sites_map_existing": "existing {category}",
        "sites_map_site": "proposed site",
        "sites_map_catchment": "newly covered",
        "map_no_residents": "no residents",
        "chart_communities_caption": "Population-weighted share of each community's residents covered by {label} ({cats} within {t} of walking). Communities without residents are omitted.",
        "chart_communities_cut": " The {n} communities with the lowest coverage of {total} are drawn.",
        "chart_cumulative": "Cumulative share of residents by {mode} time, per category",
        "chart_cumulative_caption": "Share of all residents (population-weighted) whose {mode} time to the nearest facility of each category is at most x minutes; off-network residents never count. Dashed line: {t}.",
        "share_covered": "share of residents covered",
        "share_residents": "share of residents",
        "minutes_axis": "minutes of {mode}",
        "target_line": "target {v} ({preset}{scope})",
        "threshold_line": "{t} threshold",
        "shortfalls": "Shortfalls",
        "sites": "Proposed sites",
        "sites_intro": "New {category} sites, residents counted when {rule} ({scope}); residents already covered by existing facilities stay covered. Model: {model}; solver: {method} ({proof}, {seconds:.2f} s). Problem reduced from {cand} candidates × {points} demand points to {kept} × {units}.",
        "proof_optimal": "proven optimal",
        "proof_gap": "not proven optimal: bound {bound:,.0f}, gap {gap:.2%}",
        "sites_cols": "rank|site|residents alone|residents added|share after",
        "sites_totals": "Covered before: {before:,.0f} of {total:,.0f} residents ({share_before:.1%}); after: {after:,.0f} ({share_after:.1%}). Out of reach of every candidate: {unreach:,.0f}.",
        "before_after": "Indicators before and after",
        "ba_cols": "indicator|scope|target|before|after|change (pp)|status before|status after",
        "shortfalls_lead": "Communities below a target, ranked by uncovered residents.",
        "shortfalls_top": "The {n} largest of {total} shortfalls are listed; the other {rest} are in shortfalls.csv.",
        "shortfalls_all": "All {total} shortfalls are listed (also in shortfalls.csv).",
        "shortfalls_none": "No community is below a target.",
        "shortfalls_count": "Communities below target per indicator: {counts}.",
        "rank": "#",
        "community": "community",
        "missing": "categories lacking (residents beyond the threshold)",
        "worst": "worst nearest facility",
        "method": "Method and settings",
        "method_text": (
            "Residents are represented by demand points weighted by population. Each demand point "
            "and each facility joins the street network at the nearest point on the nearest "
            "street segment; the straight access leg is travelled at the mode's speed. A point "
            "farther than the snapping limit from every street is off-network and its residents "
            "count as not covered. The travel time to a category is the shortest time to its "
            "nearest facility (access leg + network path + egress leg). The headline figure is the "
            "population-weighted share of residents within the threshold; the second figure is "
            "the share of communities in which every resident is covered. Service circles (A1, "
            "A2) need every category of their set within the threshold. Redundancy indicators "
            "count the second-nearest facility (at another place); walking profiles (older "
            "residents, children) scale the walking times by the standard speed over theirs. "
            "The full contract is docs/METHOD.md."
        ),
        "settings": "Settings",
        "setting": "setting",
        "setting_value": "value",
        "speeds": "speeds",
        "snapping": "snapping limit",
        "snapping_value": "walk {walk:g} m, cycle {cycle:g} m; one-way tie {tie:g} m",
        "component": "network used",
        "component_largest": "the largest connected part (points snap only to it)",
        "component_all": "every part of the network",
        "a1_set": "A1 service circle",
        "a2_set": "A2 rural cycling",
        "set_value": "{cats} within {t}",
        "a3": "A3 community complex radius",
        "a3_value": "{cat} within {r:g} m (straight line and walking network)",
        "tiers": "per-category walking thresholds",
        "presets": "target presets",
        "preset_col": "target preset",
        "crs": "metric CRS",
        "demand_method": "demand points",
        "capacity": "capacity access (2SFCA)",
        "capacity_value": "{cats}, {t} by {mode}",
        "attribution": "data sources",
        "osm": "road network: © OpenStreetMap contributors (ODbL)",
        "inputs": "Input files",
        "layer": "layer",
        "file": "file",
        "sha256": "SHA-256",
        "size": "size (bytes)",
        "modified": "modified (UTC)",
        "versions": "Package versions",
        "timings": "Stage timings",
        "total": "total",
        "notes": "Notes",
        "no_notes": "None.",
        "networks": "network",
        "network_value": "{nodes:,} nodes, {segments:,} segments, {km:,.1f} km; main part {main_km:,.1f} km",
        "footer": "Written by service-coverage {version}. Figures follow docs/METHOD.md; tables: indicators.csv, communities.csv, shortfalls.csv, indicators.xlsx; settings: run.json.",
        "min": "{v:g} min",
        "m": "{v:g} m",
        "none": "–",
    },
    "zh": {
        "title": "覆盖率评估报告",
        "run": "运行完成：{when} · service-coverage {version} · 用时 {elapsed} · 坐标系 {crs}",
        "elapsed": "{s:.1f} 秒",
        "contents": "目录",
        "summary": "人口核算",
        "findings": "主要结论",
        "finding_met": "{label}（{scope}）：{value}，目标 {target}（{preset}），已达标。",
        "finding_short": "{label}（{scope}）：{value}，目标 {target}（{preset}），差 {gap} 个百分点，{uncovered} 名居民未覆盖。",
        "finding_worst": "“{label}”差距最大的社区：{names}。",
        "finding_sites": "拟建的 {n} 处设施可使{label}（{scope}）由 {before} 提高到 {after}。",
        "finding_nodata": "有 {n} 项目标无法由现有输入数据测算（见“缺少数据的目标”）。",
        "finding_none": "本次运行没有可测算的目标指标。",
        "summary_lead": "人口数据中的每一位居民均已计入；未接入路网的居民按未覆盖计。",
        "input_population": "人口数据总人口",
        "used_population": "社区内人口（参与计算）",
        "outside": "不在任何社区内的人口",
        "demand": "需求点（方法）",
        "facilities": "设施",
        "off_network": "未接入路网人口（{mode}，按未覆盖计）",
        "stranded": "其中位于与主路网断开道路旁的人口",
        "off_network_facilities": "未接入路网设施（{mode}）",
        "account_mismatch": "人口核算不平衡：总人口 − 参与计算 − 社区外 = {d:,.0f} 人。",
        "weak_demand": "居民按社区人数均匀分配到社区内路网节点（仅有社区人数）：精度最低的需求点方法。",
        "headline": "指标与规划目标对照",
        "headline_lead": "覆盖率：按人口加权的居民覆盖比例。社区：全部居民均覆盖的社区数 / 有居民的社区数。差距：目标 − 现状，单位为百分点（正值为未达标）。规则类指标（方式为“规则”）：适用社区中达标社区的比例；未覆盖人口为未达标社区的居民。",
        "preset": "目标方案：{name}",
        "reference": "参考（无目标）",
        "equity_prefix": "社区间差异：",
        "items_line": "全部居民均可达的设施项目：社区中位数 {median}/{n} 项；{n} 项齐全：{full}/{counted} 个社区",
        "equity_parts": "基尼系数 {gini}|帕尔马比值 {palma}|低于目标一半 {below}",
        "more_heading": "设施冗余与分人群步行速度（无目标）",
        "spread": "社区间差异",
        "equity_lead": "社区间差异（汇总行）：按居民加权的社区覆盖率基尼系数与帕尔马比值（覆盖最好的10%居民与最差的40%居民之比），以及居住在覆盖率低于目标一半的社区中的居民比例。",
        "profiles": "步行速度分档：60岁以上居民 {older:g} 公里/小时，儿童 {child:g} 公里/小时",
        "indicator": "指标",
        "wording": "规划表述",
        "scope": "范围",
        "mode_threshold": "方式、阈值",
        "target": "目标",
        "value": "现状值",
        "status": "状态",
        "gap": "差距（百分点）",
        "uncovered": "未覆盖人口",
        "communities": "社区",
        "target_year": "目标年份",
        "source": "依据",
        "note": "说明",
        "no_headline": "本次运行没有设定目标的指标。",
        "no_data_heading": "缺少数据的目标",
        "no_data_lead": "以下目标（及无目标的参考指标）无法由现有输入数据测算；请补充各行所列数据方可测算：缺少的设施请在设施图层中提供；如研究区确无此类设施，请在 [inputs] surveyed_categories 中列出其类别。",
        "no_data_cols": "指标|范围|目标|需补充的数据",
        "not_applicable_line": "不适用于本研究任何社区的目标：{names}。",
        "charts": "图表",
        "chart_communities": "各社区覆盖率：{label}",
        "map_title": "地图：各社区{label}",
        "map_caption": "社区按居民覆盖比例着色；红色边框：未达标社区；圆点：设施；斜线：未覆盖居民最集中的区域。比例尺与指北针基于研究区投影（{crs}）。数据来源：{credits}。",
        "map_legend_share": "居民覆盖比例",
        "map_legend_short": "未达标",
        "map_north": "北",
        "sites_map_title": "地图：拟建{category}选址及其新增覆盖范围",
        "sites_map_caption": "编号为建设顺序；阴影：各拟建点新增覆盖的居民所在范围（{rule}）{existing}。比例尺与指北针基于研究区投影（{crs}）。数据来源：{credits}。",
        "sites_map_dots": "；灰点：现有{category}",
        "sites_map_existing": "现有{category}",
        "sites_map_site": "拟建点",
        "sites_map_catchment": "新增覆盖范围",
        "map_no_residents": "无居民",
        "chart_communities_caption": "各社区按人口加权的{label}（步行{t}内可达{cats}）。无居民的社区未列出。",
        "chart_communities_cut": "仅绘制覆盖率最低的 {n} 个社区（共 {total} 个）。",
        "chart_cumulative": "按{mode}时间的居民累计比例（分设施类别）",
        "chart_cumulative_caption": "横轴为分钟数：{mode}至各类最近设施的时间不超过该分钟数的居民比例（按人口加权，分母为全部居民）；未接入路网的居民不计入覆盖。虚线：{t}。",
        "share_covered": "居民覆盖率",
        "share_residents": "居民比例",
        "minutes_axis": "{mode}时间（分钟）",
        "target_line": "目标 {v}（{preset}{scope}）",
        "threshold_line": "{t}阈值",
        "shortfalls": "未达标社区",
        "sites": "新增设施选址",
        "sites_intro": "新增{category}选址；覆盖规则：{rule}（{scope}）；现有设施已覆盖的居民保持覆盖。模型：{model}；求解：{method}（{proof}，{seconds:.2f} 秒）。问题规模由 {cand} 个候选点 × {points} 个需求点缩减为 {kept} × {units}。",
        "proof_optimal": "已证明最优",
        "proof_gap": "未证明最优：上界 {bound:,.0f}，差距 {gap:.2%}",
        "sites_cols": "序号|选址|单独覆盖居民|新增覆盖居民|新增后覆盖率",
        "sites_totals": "新增前覆盖 {before:,.0f} / {total:,.0f} 人（{share_before:.1%}）；新增后 {after:,.0f} 人（{share_after:.1%}）。任何候选点均无法覆盖：{unreach:,.0f} 人。",
        "before_after": "选址前后指标对比",
        "ba_cols": "指标|范围|目标|选址前|选址后|变化（百分点）|选址前状态|选址后状态",
        "shortfalls_lead": "低于目标的社区，按未覆盖人口排序。",
        "shortfalls_top": "列出未覆盖人口最多的 {n} 条（共 {total} 条），其余 {rest} 条见 shortfalls.csv。",
        "shortfalls_all": "共 {total} 条，全部列出（亦见 shortfalls.csv）。",
        "shortfalls_none": "没有低于目标的社区。",
        "shortfalls_count": "各指标未达标社区数：{counts}。",
        "rank": "序号",
        "community": "社区",
        "missing": "缺少的设施类别（超出阈值的居民）",
        "worst": "到最近设施的最长用时",
        "method": "方法与参数",
        "method_text": (
            "居民以按人口加权的需求点表示。每个需求点和设施在最近道路的最近点接入路网，"
            "接入段按该出行方式的速度计时。与所有道路的距离超过接入距离上限的点视为未接入路网，"
            "其居民按未覆盖计。到某类设施的出行时间为到最近一处该类设施的最短时间"
            "（接入段 + 路网路径 + 离开段）。主要指标为阈值内居民占比（按人口加权）；"
            "第二个数字为全部居民均覆盖的社区占比。服务圈指标（A1、A2）要求集合中的每类设施均在阈值内。"
            "设施冗余指标计算到第二近（位于另一地点）的同类设施的时间；分人群步行速度（老年人、儿童）"
            "按标准步速与该人群步速之比折算步行时间。"
            "完整定义见 docs/METHOD.md。"
        ),
        "settings": "参数",
        "setting": "参数",
        "setting_value": "取值",
        "speeds": "速度",
        "snapping": "接入距离上限",
        "snapping_value": "步行 {walk:g} 米，骑行 {cycle:g} 米；单行道同点容差 {tie:g} 米",
        "component": "使用的路网",
        "component_largest": "最大连通部分（点只接入该部分）",
        "component_all": "全部路网",
        "a1_set": "A1 社区服务圈",
        "a2_set": "A2 乡村骑行",
        "set_value": "{t}内可达：{cats}",
        "a3": "A3 社区综合体服务半径",
        "a3_value": "{cat} {r:g} 米以内（直线与步行路网）",
        "tiers": "单类设施步行阈值",
        "presets": "目标方案",
        "preset_col": "目标方案",
        "crs": "投影坐标系",
        "demand_method": "需求点",
        "capacity": "容量可达性（2SFCA）",
        "capacity_value": "{cats}，{mode}{t}",
        "attribution": "数据来源",
        "osm": "路网：© OpenStreetMap 贡献者（ODbL）",
        "inputs": "输入文件",
        "layer": "图层",
        "file": "文件",
        "sha256": "SHA-256",
        "size": "大小（字节）",
        "modified": "修改时间（UTC）",
        "versions": "软件包版本",
        "timings": "各阶段用时",
        "total": "合计",
        "notes": "备注",
        "no_notes": "无。",
        "networks": "路网",
        "network_value": "{nodes:,} 个节点，{segments:,} 段，{km:,.1f} 公里；主体部分 {main_km:,.1f} 公里",
        "footer": "由 service-coverage {version} 生成。计算方法见 docs/METHOD.md；数据表：indicators.csv、communities.csv、shortfalls.csv、indicators.xlsx；参数：run.json。",
        "min": "{v:g}分钟",
        "m": "{v:g}米",
        "none": "–",
    },
}

_MODE_NOUN = {
    "en": {"walk": "walking", "cycle": "cycling"},
    "zh": {"walk": "步行", "cycle": "骑行"},
}
_SCOPES = SCOPE_LABELS
_KINDS = {
    "en": {"urban": "urban", "rural": "rural"},
    "zh": {"urban": "城市社区", "rural": "乡村社区"},
}
_LAYERS = {
    "en": {},
    "zh": {
        "communities": "社区边界",
        "facilities": "设施",
        "population": "人口",
        "network": "路网",
        "workplaces": "工作地",
    },
}
_STAGES = {
    "zh": {
        "read inputs": "读取输入",
        "build networks": "构建路网",
        "read inputs and networks": "读取输入与路网",
        "what-if": "情景测试",
        "demand points": "生成需求点",
        "reach": "可达时间计算",
        "indicators": "指标计算",
    }
}
_DEMAND_METHODS = {
    "zh": {
        "polygons": "人口面",
        "points": "人口点",
        "raster": "人口栅格",
        "network nodes": "路网节点",
    }
}

CSS = f"""
:root {{ --ink: #1d1d1f; --muted: #5f6368; --line: #d0d4d9; --met: #1a7f37; --short: #c62828;
  --band: #f4f6f8; }}
* {{ box-sizing: border-box; }}
body {{ font-family: {FONT_STACK}; color: var(--ink); margin: 0 auto; padding: 24px 32px 48px;
  max-width: 1240px; line-height: 1.5; font-size: 14px; background: #fff; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }}
h2 {{ font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }}
h3 {{ font-size: 16px; margin: 20px 0 6px; }}
p.meta, p.lead, figcaption, .small {{ color: var(--muted); font-size: 12.5px; }}
nav {{ margin: 12px 0; font-size: 13px; }}
nav a {{ margin-right: 14px; color: #1558b0; text-decoration: none; }}
.box {{ border: 1px solid var(--line); background: var(--band); border-radius: 6px;
  padding: 10px 18px 14px; margin-top: 16px; }}
.box h2 {{ border: 0; margin-top: 6px; }}
.warn {{ color: var(--short); font-weight: 600; }}
table {{ border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 12.5px; }}
th, td {{ border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left;
  vertical-align: top; }}
th {{ background: var(--band); font-weight: 600; }}
td.num, th.num {{ text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }}
table.account {{ width: auto; min-width: 60%; }}
table.account td.num {{ padding-left: 24px; }}
table.kv {{ width: auto; max-width: 100%; }}
table.kv th {{ width: 16em; }}
.status {{ font-weight: 700; white-space: nowrap; }}
.nw {{ white-space: nowrap; }}
.status.met {{ color: var(--met); }}
.status.short {{ color: var(--short); }}
.status.other {{ color: var(--muted); }}
.cats, .note {{ display: block; color: var(--muted); font-size: 11.5px; }}
.note::before {{ content: "※ "; }}
.id {{ display: block; color: var(--muted); font-size: 11px; }}
code, .hash {{ font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 11.5px; }}
figure {{ margin: 18px 0 24px; }}
figure h3 {{ margin-bottom: 2px; }}
.chart svg {{ width: 100%; max-width: 980px; height: auto; display: block; }}
.chart svg text {{ font-family: {FONT_STACK} !important; }}
ul.notes li {{ margin-bottom: 4px; }}
footer {{ margin-top: 40px; border-top: 1px solid var(--line); padding-top: 8px; }}
thead {{ display: table-header-group; }}
table.headline td:nth-child(1) {{ width: 20%; }}
table.headline td:nth-child(2) {{ width: 32%; }}
@page {{ size: A4; margin: 14mm 12mm 16mm; }}
@media print {{
  body {{ padding: 0; max-width: none; font-size: 9.5pt; line-height: 1.35; }}
  h1 {{ font-size: 16pt; }}
  h2 {{ font-size: 13pt; margin: 14pt 0 4pt; }}
  h3 {{ font-size: 11pt; margin: 8pt 0 3pt; }}
  table {{ font-size: 8pt; margin: 3pt 0 6pt; }}
  th, td {{ padding: 1.5pt 4pt; }}
  .cats, .note, .id, p.meta, p.lead, figcaption, .small {{ font-size: 7.5pt; }}
  code, .hash {{ font-size: 7pt; word-break: break-all; }}
  nav {{ display: none; }}
  tr, figure {{ break-inside: avoid; }}
  h2, h3 {{ break-after: avoid; }}
  figure {{ margin: 8pt 0 10pt; }}
  .chart svg {{ max-height: 120mm; width: auto; max-width: 100%; }}
  section.appendix {{ break-before: page; }}
  table.nodata {{ font-size: 7.5pt; }}
  table.nodata .id {{ display: inline; margin-left: 4pt; }}
}}
"""


def _t(lang: str, key: str, **values: Any) -> str:
    text = TEXT[lang][key]
    return text.format(**values) if values else text


def _esc(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _share(value: object, lang: str) -> str:
    """A share 0–1 as a percentage: ``79.6 %`` (en), ``79.6%`` (zh)."""
    if _missing(value):
        return TEXT[lang]["none"]
    v = 100 * float(value)  # type: ignore[arg-type]
    return f"{v:.1f}%" if lang == "zh" else f"{v:.1f} %"


def _target(value: object, lang: str) -> str:
    """A target share without a trailing ``.0``: ``100 %``, ``62.5 %``."""
    if _missing(value):
        return TEXT[lang]["none"]
    v = f"{100 * float(value):.1f}".removesuffix(".0")  # type: ignore[arg-type]
    return f"{v}%" if lang == "zh" else f"{v} %"


def _seconds(value: object, lang: str) -> str:
    """A duration: ``1.25 s``, ``1.25 秒``."""
    return f"{float(value):.2f} {'秒' if lang == 'zh' else 's'}"  # type: ignore[arg-type]


def _note(note: object, lang: str) -> str:
    """A row's note in ``lang`` (a :class:`~coverage.messages.Note` renders its messages)."""
    return render(note, lang) if isinstance(note, str) else str(note)


def _pp(value: object, lang: str) -> str:
    """A gap in percentage points with its sign (U+2212 for minus)."""
    if _missing(value):
        return TEXT[lang]["none"]
    return f"{100 * float(value):+.1f}".replace("-", "\u2212")  # type: ignore[arg-type]


def _count(value: object, lang: str) -> str:
    if _missing(value):
        return TEXT[lang]["none"]
    return f"{float(value):,.0f}"  # type: ignore[arg-type]


def _ratio(value: object, lang: str) -> str:
    """A Gini coefficient or Palma ratio to 2 decimals."""
    if _missing(value):
        return TEXT[lang]["none"]
    return f"{float(value):.2f}"  # type: ignore[arg-type]


def _equity_cell(row: pd.Series, lang: str, prefix: bool = True) -> str:
    """The spread between communities of an aggregate row (:data:`EQUITY_COLUMNS`), as a
    line of the wording cell (HTML; nothing for a row without it). The share below half
    the target is given where the row has a target."""
    gini, palma = row.get("gini"), row.get("palma")
    if _missing(gini):
        return ""
    below = row.get("below_half_target_share")
    # an empty Palma beside a Gini: the worst-served 40 % have no coverage (unbounded)
    palma_text = "∞" if _missing(palma) else _ratio(palma, lang)
    parts = _t(
        lang, "equity_parts", gini=_ratio(gini, lang), palma=palma_text, below=_share(below, lang)
    ).split("|")
    text = ("，" if lang == "zh" else ", ").join(parts if not _missing(below) else parts[:2])
    text = (_t(lang, "equity_prefix") if prefix else "") + text
    return f'<span class="cats">{_esc(text)}</span>'


def items_summary(items: npt.ArrayLike, n_items: int) -> tuple[float, int, int]:
    """Median items per community, communities with all ``n_items``, communities counted.

    ``items``: per community, the items every resident reaches (NaN: not counted).

    Examples
    --------
    >>> items_summary([8.0, 6.0, 5.0, float("nan")], 8)
    (6.0, 1, 3)
    """
    v = np.asarray(items, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), 0, 0
    return float(np.median(v)), int((v >= n_items).sum()), int(v.size)


def _items_line(result: StudyResult, row: pd.Series, lang: str) -> str:
    """For an indicator that counts items (the complete community), the median community's
    items within reach of every resident, and the communities with all (HTML line)."""
    spec = next((s for s in result.specs if s.indicator == row["indicator"] and s.items), None)
    column = f"{spec.column}_items" if spec is not None else ""
    if spec is None or column not in result.communities.columns:
        return ""
    scope = str(row["scope"])
    comm = result.communities
    inside = np.ones(len(comm), bool) if scope == "all" else (comm["kind"] == scope).to_numpy()
    median, full, counted = items_summary(
        comm[column].to_numpy(dtype=float)[inside], len(spec.categories)
    )
    if not counted:
        return ""
    text = _t(
        lang, "items_line", median=f"{median:g}", n=len(spec.categories), full=full, counted=counted
    )
    return f'<span class="cats">{_esc(text)}</span>'


def _threshold(value: float, unit: str, lang: str) -> str:
    return _t(lang, "m" if unit == "m" else "min", v=value)


def _categories(cats: Sequence[str] | str, lang: str) -> str:
    if isinstance(cats, str):
        cats = [c for c in cats.split("+") if c]
    sep = "、" if lang == "zh" else " + "
    return sep.join(category_label(c, lang) for c in cats)


def _units(result: StudyResult) -> dict[str, str]:
    """Indicator id -> threshold unit (``min`` or ``m``)."""
    units = {s.indicator: s.unit for s in result.specs}
    for ident, entry in result.catalogue.items():
        if isinstance(entry, AccessIndicator):
            units.setdefault(ident, entry.unit)
    return units


def _mode_threshold(row: pd.Series, units: dict[str, str], lang: str) -> str:
    mode = str(row["mode"])
    text = _MODES[lang].get(mode, mode)
    thr = row["minutes_or_metres"]
    if mode == "rule" or _missing(thr) or str(thr).strip() == "":
        return _esc(text)
    unit = units.get(str(row["indicator"]), "m" if mode == "straight" else "min")
    return _esc(f"{text} {_threshold(float(thr), unit, lang)}")


def _status_cell(status: str, lang: str) -> str:
    cls = status if status in ("met", "short") else "other"
    return f'<td class="status {cls}">{_esc(_STATUS[lang].get(status, status))}</td>'


def _utc(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return iso
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _table(headers: Sequence[tuple[str, bool]], rows: Sequence[str], cls: str = "") -> str:
    """A table from ``(header, numeric)`` pairs and pre-rendered ``<tr>`` rows."""
    head = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in headers)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# -- sections -----------------------------------------------------------------------------


def _findings(result: StudyResult, lang: str, siting: Any = None) -> str:
    """The first thing a reader sees: the plan's targets met or short, who is furthest short,
    what proposed sites would change, and what cannot be measured."""
    table = rounded_indicators(result.indicators)
    agg = table[table["scope"].isin(["all", "urban", "rural"]) & table["target"].notna()]
    judged = agg[agg["status"].isin(["met", "short"])]
    items = [_finding(result, r, lang) for _, r in judged.iterrows()]
    if not items:
        items.append(_esc(_t(lang, "finding_none")))
    worst = _furthest_short(result, judged, lang)
    if worst:
        items.append(worst)
    if siting is not None:
        items += _site_findings(result, siting, lang)
    missing = agg[agg["status"] == "no data"]["indicator"].nunique()
    if missing:
        items.append(_esc(_t(lang, "finding_nodata", n=missing)))
    lis = "".join(f"<li>{i}</li>" for i in items)
    return f'<section id="findings" class="box"><h2>{_esc(_t(lang, "findings"))}</h2><ul>{lis}</ul></section>'


def _finding(result: StudyResult, r: pd.Series, lang: str) -> str:
    label = indicator_label(str(r["indicator"]), lang, result.catalogue)
    scope = _SCOPES[lang].get(str(r["scope"]), str(r["scope"]))
    common = {
        "label": label,
        "scope": scope,
        "value": _share(r["value"], lang),
        "target": _target(r["target"], lang),
        "preset": r.get("preset", ""),
    }
    if r["status"] == "met":
        return _esc(_t(lang, "finding_met", **common))
    uncovered = float(r["total_population"]) - float(r["covered_population"])
    gap = f"{100 * float(r['gap']):.1f}"
    return (
        '<span class="warn">'
        + _esc(_t(lang, "finding_short", gap=gap, uncovered=_count(uncovered, lang), **common))
        + "</span>"
    )


def _furthest_short(result: StudyResult, judged: pd.DataFrame, lang: str) -> str:
    """The five communities furthest short of the first indicator that is short."""
    short = judged[judged["status"] == "short"]
    if short.empty or result.shortfalls.empty:
        return ""
    ident = str(short["indicator"].iloc[0])
    rows = result.shortfalls[result.shortfalls["indicator"] == ident]
    rows = rows.sort_values(["gap", "community_id"], ascending=[False, True]).drop_duplicates(
        "community_id"
    )
    names = result.communities.set_index("community_id")["name"].astype(str)
    shown = [
        f"{names.get(c, c) or c} ({_share(v, lang)})"
        for c, v in zip(rows["community_id"].head(5), rows["value"].head(5), strict=True)
    ]
    sep = "、" if lang == "zh" else ", "
    label = indicator_label(ident, lang, result.catalogue)
    return _esc(_t(lang, "finding_worst", label=label, names=sep.join(shown)))


def _site_findings(result: StudyResult, siting: Any, lang: str) -> list[str]:
    ba = siting.before_after
    moved = ba[ba["target"].notna() & ba["value_after"].notna() & (ba["change_pp"].fillna(1) != 0)]
    out = []
    for _, r in moved.drop_duplicates(["indicator", "scope"]).head(3).iterrows():
        before = _share(r["value_before"], lang) if not _missing(r["value_before"]) else "–"
        out.append(
            _esc(
                _t(
                    lang,
                    "finding_sites",
                    n=len(siting.sites),
                    label=indicator_label(str(r["indicator"]), lang, result.catalogue),
                    scope=_SCOPES[lang].get(str(r["scope"]), str(r["scope"])),
                    before=before,
                    after=_share(r["value_after"], lang),
                )
            )
        )
    return out


def _summary(result: StudyResult, lang: str) -> str:
    acc = result.accounting
    rows = []

    def add(key: str, value: str, **fmt: Any) -> None:
        rows.append(f'<tr><td>{_esc(_t(lang, key, **fmt))}</td><td class="num">{value}</td></tr>')

    add("input_population", _count(acc.get("input_population"), lang))
    add("used_population", _count(acc.get("used_population"), lang))
    add("outside", _count(acc.get("outside_communities_population"), lang))
    method = str(acc.get("demand_method", ""))
    method_text = _DEMAND_METHODS.get(lang, {}).get(method, method)
    add("demand", f"{_count(acc.get('demand_points'), lang)} ({_esc(method_text)})")
    add("facilities", _count(acc.get("facilities"), lang))
    for mode in result.reach:
        noun = _MODES[lang].get(mode, mode)
        add("off_network", _count(acc.get(f"off_network_population_{mode}"), lang), mode=noun)
        add("stranded", _count(acc.get(f"stranded_population_{mode}"), lang))
        add(
            "off_network_facilities",
            _count(acc.get(f"off_network_facilities_{mode}"), lang),
            mode=noun,
        )
    warn = []
    try:
        diff = (
            float(acc["input_population"])
            - float(acc["used_population"])
            - float(acc["outside_communities_population"])
        )
    except (KeyError, TypeError, ValueError):
        diff = 0.0
    if abs(diff) > 0.5:
        warn.append(f'<p class="warn">{_esc(_t(lang, "account_mismatch", d=diff))}</p>')
    if method == "network nodes":
        warn.append(f'<p class="warn">{_esc(_t(lang, "weak_demand"))}</p>')
    return (
        f'<section id="summary" class="box"><h2>{_esc(_t(lang, "summary"))}</h2>'
        f'<p class="lead">{_esc(_t(lang, "summary_lead"))}</p>'
        f'<table class="account"><tbody>{"".join(rows)}</tbody></table>{"".join(warn)}</section>'
    )


def reference_indicators(result: StudyResult) -> tuple[str, ...]:
    """Indicators the headline shows without a target: A1 (and A1 for older residents),
    the redundancy indicators (``nth = 2``) and the walking profiles of the catalogue."""
    extra = [
        e.id
        for e in result.catalogue.values()
        if isinstance(e, AccessIndicator) and (e.nth == 2 or e.profile)
    ]
    return ("A1_service_circle", "A1_service_circle_older", *extra)


def headline_rows(
    indicators: pd.DataFrame, reference: Sequence[str] = ("A1_service_circle",)
) -> list[tuple[str | None, pd.DataFrame]]:
    """The rows of the headline table, grouped by target preset.

    Parameters
    ----------
    indicators
        The indicator table of a run (``StudyResult.indicators``).

    Returns
    -------
    list of (str or None, DataFrame)
        ``(preset, rows)`` pairs: the aggregate rows (scope ``all``, ``urban``,
        ``rural``) that have a target, grouped by the ``preset`` column in order
        of appearance (one group named ``""`` when the table has no such
        column); then ``(None, rows)`` with the first aggregate row (``all``,
        or the one scope an indicator is for) of each ``reference`` indicator
        that has no target (shown for reference; by default A1).

    Examples
    --------
    >>> t = pd.DataFrame({"indicator": ["A1_service_circle"] * 2, "scope": ["all", "urban"],
    ...                   "target": [float("nan"), 1.0], "preset": ["", "p"]})
    >>> [(name, len(rows)) for name, rows in headline_rows(t)]
    [('p', 1), (None, 1)]
    """
    agg = indicators[indicators["scope"].isin(["all", "urban", "rural"])]
    targeted = agg[agg["target"].notna()]
    groups: list[tuple[str | None, pd.DataFrame]] = []
    if "preset" in targeted.columns:
        presets = targeted["preset"].fillna("").astype(str)
        for name in dict.fromkeys(presets):
            groups.append((name, targeted[presets == name]))
    elif len(targeted):
        groups.append(("", targeted))
    untargeted = agg[agg["indicator"].isin(list(reference)) & agg["target"].isna()]
    first = untargeted.drop_duplicates("indicator", keep="first")
    if len(first):
        groups.append((None, first))
    return groups


def _headline(result: StudyResult, table: pd.DataFrame, lang: str) -> str:
    units = _units(result)
    wording_col = "wording_zh" if lang == "zh" else "wording_en"
    headers = [
        (_t(lang, "indicator"), False),
        (_t(lang, "wording"), False),
        (_t(lang, "scope"), False),
        (_t(lang, "mode_threshold"), False),
        (_t(lang, "target"), True),
        (_t(lang, "value"), True),
        (_t(lang, "status"), False),
        (_t(lang, "gap"), True),
        (_t(lang, "uncovered"), True),
        (_t(lang, "communities"), True),
        (_t(lang, "target_year"), True),
    ]
    headers = [(_esc(h), n) for h, n in headers]
    parts = [
        f'<section id="headline"><h2>{_esc(_t(lang, "headline"))}</h2>'
        f'<p class="lead">{_esc(_t(lang, "headline_lead"))} {_esc(_t(lang, "equity_lead"))}</p>'
    ]
    reference = reference_indicators(result)
    with_data = table[~table["status"].isin(["no data", "not applicable"])]
    groups = headline_rows(with_data, reference[:2])
    if not any(name is not None for name, _ in groups):
        parts.append(f"<p>{_esc(_t(lang, 'no_headline'))}</p>")
    for name, rows in groups:
        if name is None:
            parts.append(f"<h3>{_esc(_t(lang, 'reference'))}</h3>")
        elif name or "preset" in table.columns:
            parts.append(f"<h3>{_esc(_t(lang, 'preset', name=name or '–'))}</h3>")
        body = []
        for _, r in rows.iterrows():
            ident = str(r["indicator"])
            name_cell = _esc(indicator_label(ident, lang, result.catalogue))
            if ident == "category_coverage" or ident.startswith(("A1", "A2")):
                name_cell += (
                    f'<span class="cats">{_esc(_categories(str(r["categories"]), lang))}</span>'
                )
            name_cell += f'<span class="id">{_esc(ident)}</span>'
            note = r.get("note", "")
            if not _missing(note) and str(note):
                name_cell += f'<span class="note">{_esc(_note(note, lang))}</span>'
            wording = r.get(wording_col, "")
            covered, total = r["covered_population"], r["total_population"]
            uncovered = (
                float(total) - float(covered)
                if not (_missing(covered) or _missing(total))
                else None
            )
            year = r.get("target_year")
            comms = (
                f"{int(r['communities_fully_covered'])}/{int(r['communities_with_residents'])}"
                if not _missing(r["communities_with_residents"])
                else TEXT[lang]["none"]
            )
            body.append(
                "<tr>"
                f"<td>{name_cell}</td>"
                f"<td>{'' if _missing(wording) else _esc(wording)}"
                f"{_src(_source(r, result, lang))}{_equity_cell(r, lang)}"
                f"{_items_line(result, r, lang)}</td>"
                f"<td>{_esc(_SCOPES[lang].get(str(r['scope']), r['scope']))}</td>"
                f'<td class="nw">{_mode_threshold(r, units, lang)}</td>'
                f'<td class="num">{_target(r["target"], lang)}</td>'
                f'<td class="num">{_share(r["value"], lang)}</td>'
                f"{_status_cell(str(r['status']), lang)}"
                f'<td class="num">{_pp(r["gap"], lang)}</td>'
                f'<td class="num">{_count(uncovered, lang)}</td>'
                f'<td class="num">{comms}</td>'
                f'<td class="num">{"" if _missing(year) else int(year)}</td>'
                "</tr>"
            )
        parts.append(_table(headers, body, "headline"))
    parts.append(_more_indicators(result, with_data, reference[2:], lang))
    parts.append(_without_data(result, table, lang, reference))
    parts.append(_not_applicable(result, table, lang))
    parts.append("</section>")
    return "".join(parts)


def _more_indicators(
    result: StudyResult, table: pd.DataFrame, idents: Sequence[str], lang: str
) -> str:
    """Redundancy and walking-profile indicators (no target), one compact line each: the
    first aggregate row of each, with its spread between communities."""
    agg = table[table["scope"].isin(["all", "urban", "rural"]) & table["indicator"].isin(idents)]
    rows = agg.drop_duplicates("indicator", keep="first")
    if rows.empty:
        return ""
    units = _units(result)
    body = []
    for _, r in rows.iterrows():
        ident = str(r["indicator"])
        comms = f"{int(r['communities_fully_covered'])}/{int(r['communities_with_residents'])}"
        body.append(
            "<tr>"
            f"<td>{_esc(indicator_label(ident, lang, result.catalogue))}"
            f'<span class="id">{_esc(ident)}</span></td>'
            f"<td>{_esc(_SCOPES[lang].get(str(r['scope']), r['scope']))}</td>"
            f'<td class="nw">{_mode_threshold(r, units, lang)}</td>'
            f'<td class="num">{_share(r["value"], lang)}</td>'
            f'<td class="num">{comms}</td>'
            f'<td class="small">{_equity_cell(r, lang, prefix=False)}</td>'
            "</tr>"
        )
    heads = [
        (_esc(_t(lang, k)), k in ("value", "communities"))
        for k in ("indicator", "scope", "mode_threshold", "value", "communities", "spread")
    ]
    return f"<h3>{_esc(_t(lang, 'more_heading'))}</h3>" + _table(heads, body, "more")


def _not_applicable(result: StudyResult, table: pd.DataFrame, lang: str) -> str:
    """The targeted rules that apply to no community of the study, in one line."""
    agg = table[table["scope"].isin(["all", "urban", "rural"])]
    rows = agg[(agg["status"] == "not applicable") & agg["target"].notna()]
    if rows.empty:
        return ""
    names = [
        f"{indicator_label(str(i), lang, result.catalogue)} ({i})"
        for i in dict.fromkeys(rows["indicator"])
    ]
    sep = "；" if lang == "zh" else "; "
    return f'<p class="small">{_esc(_t(lang, "not_applicable_line", names=sep.join(names)))}</p>'


def _brief_note(note: object, lang: str) -> str:
    """A no-data row's note with the absent categories said briefly (the table's lead
    says how to supply them)."""
    if not isinstance(note, Note) or not note.messages:
        return _note(note, lang)
    brief = [Message("absent_brief", m.params) if m.code == "absent" else m for m in note.messages]
    return render_all(brief, lang)


def _src(source: object) -> str:
    return f'<span class="cats">{_esc(source)}</span>' if source else ""


def _source(row: pd.Series, result: StudyResult, lang: str) -> str:
    """A target row's citation in ``lang`` (the preset's ``source_zh`` in Chinese)."""
    source = row.get("source")
    if _missing(source) or not source:
        return ""
    if lang == "zh":
        for t in result.targets:
            if (t.indicator, t.preset, t.source) == (row["indicator"], row.get("preset"), source):
                return t.source_zh or str(source)
    return str(source)


def _without_data(
    result: StudyResult, table: pd.DataFrame, lang: str, reference: Sequence[str] = ()
) -> str:
    """The targeted (and ``reference``) indicators without data, one line each: what to
    supply to measure them."""
    agg = table[table["scope"].isin(["all", "urban", "rural"])]
    wanted = agg["target"].notna() | agg["indicator"].isin(list(reference))
    rows = agg[(agg["status"] == "no data") & wanted]
    if rows.empty:
        return ""
    body = []
    for ident, group in rows.groupby("indicator", sort=False):
        scopes = "、" if lang == "zh" else ", "
        scope_text = scopes.join(
            dict.fromkeys(_SCOPES[lang].get(str(s), str(s)) for s in group["scope"])
        )
        targets = " / ".join(dict.fromkeys(_target(t, lang) for t in group["target"]))
        note = next((n for n in group["note"] if not _missing(n) and str(n)), "")
        body.append(
            "<tr>"
            f"<td>{_esc(indicator_label(str(ident), lang, result.catalogue))}"
            f'<span class="id">{_esc(ident)}</span></td>'
            f"<td>{_esc(scope_text)}</td>"
            f'<td class="num">{targets}</td>'
            f'<td class="small">{_esc(_brief_note(note, lang))}</td>'
            "</tr>"
        )
    heads = [(_esc(h), i == 2) for i, h in enumerate(_t(lang, "no_data_cols").split("|"))]
    return (
        f"<h3>{_esc(_t(lang, 'no_data_heading'))}</h3>"
        f'<p class="lead">{_esc(_t(lang, "no_data_lead"))}</p>' + _table(heads, body, "nodata")
    )


def _shortfalls(result: StudyResult, lang: str) -> str:
    short = result.shortfalls.copy()
    parts = [
        f'<section id="shortfalls"><h2>{_esc(_t(lang, "shortfalls"))}</h2>'
        f'<p class="lead">{_esc(_t(lang, "shortfalls_lead"))}</p>'
    ]
    total = len(short)
    if total == 0:
        parts.append(f"<p>{_esc(_t(lang, 'shortfalls_none'))}</p></section>")
        return "".join(parts)
    counts = short.groupby("indicator", sort=False)["community_id"].nunique()
    sep = "；" if lang == "zh" else "; "
    listed = sep.join(
        f"{indicator_label(str(k), lang, result.catalogue)} {v}" for k, v in counts.items()
    )
    parts.append(f'<p class="small">{_esc(_t(lang, "shortfalls_count", counts=listed))}</p>')
    short["_order"] = np.arange(total)
    short = short.sort_values(
        ["uncovered_population", "_order"], ascending=[False, True], kind="stable"
    )
    top = short.head(SHORTFALL_ROWS)
    if total > SHORTFALL_ROWS:
        parts.append(
            f"<p>{_esc(_t(lang, 'shortfalls_top', n=SHORTFALL_ROWS, total=total, rest=total - SHORTFALL_ROWS))}</p>"
        )
    else:
        parts.append(f"<p>{_esc(_t(lang, 'shortfalls_all', total=total))}</p>")
    comm = result.communities.set_index("community_id")
    names = comm["name"]
    kinds = comm["kind"] if "kind" in comm.columns else pd.Series(dtype=object)
    units = _units(result)
    has_preset = "preset" in top.columns
    headers = [
        (_t(lang, "rank"), True),
        (_t(lang, "community"), False),
        (_t(lang, "indicator"), False),
    ]
    if has_preset:
        headers.append((_t(lang, "preset_col"), False))
    headers += [
        (_t(lang, "mode_threshold"), False),
        (_t(lang, "target"), True),
        (_t(lang, "value"), True),
        (_t(lang, "gap"), True),
        (_t(lang, "uncovered"), True),
        (_t(lang, "missing"), False),
        (_t(lang, "worst"), False),
    ]
    body = []
    for rank, (_, r) in enumerate(top.iterrows(), start=1):
        cid = r["community_id"]
        kind = kinds.get(cid, "")
        kind_text = _KINDS[lang].get(str(kind), "" if _missing(kind) else str(kind))
        community = (
            f"{_esc(names.get(cid, ''))}"
            f'<span class="id">{_esc(cid)}{" · " + _esc(kind_text) if kind_text else ""}</span>'
        )
        cells = [
            f'<td class="num">{rank}</td>',
            f"<td>{community}</td>",
            f"<td>{_esc(indicator_label(str(r['indicator']), lang, result.catalogue))}"
            f'<span class="id">{_esc(r["indicator"])}</span></td>',
        ]
        if has_preset:
            cells.append(f'<td class="nw">{_esc(r["preset"])}</td>')
        cells += [
            f'<td class="nw">{_mode_threshold(r, units, lang)}</td>',
            f'<td class="num">{_target(r["target"], lang)}</td>',
            f'<td class="num">{_share(r["value"], lang)}</td>',
            f'<td class="num">{_pp(r["gap"], lang)}</td>',
            f'<td class="num">{_count(r["uncovered_population"], lang)}</td>',
            f"<td>{_esc(_rendered(r, 'reasons', 'missing_categories', lang))}</td>",
            f"<td>{_esc(_rendered(r, 'worst', 'worst_nearest', lang))}</td>",
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    parts.append(_table([(_esc(h), n) for h, n in headers], body, "shortfalls"))
    parts.append("</section>")
    return "".join(parts)


def _rendered(row: pd.Series, messages: str, text: str, lang: str) -> str:
    """A shortfall's reasons in the report's language, from its messages (else its text)."""
    value = row.get(messages)
    if isinstance(value, list):
        return render_all(value, lang)
    return str(row.get(text, "") or "")


def _speeds(study: Any, lang: str) -> str:
    """The speeds in words (in English as :meth:`Speeds.describe` writes them), then the
    walking profiles."""
    speeds = study.speeds
    profiles = _t(lang, "profiles", older=speeds.older_walk_kmh, child=speeds.child_walk_kmh)
    if lang != "zh":
        return f"{speeds.describe()}; {profiles}"
    parts = []
    for mode, kmh in (("walk", speeds.walk_kmh), ("cycle", speeds.cycle_kmh)):
        extra = "，".join(f"{k} {v:g}" for k, v in sorted(speeds.highway_kmh(mode).items()))
        text = f"{_MODES['zh'][mode]} {kmh:g} 公里/小时"
        parts.append(text + (f"（{extra} 公里/小时）" if extra else ""))
    return "；".join([*parts, profiles])


def _file_row(key: str, info: dict[str, Any], lang: str) -> str:
    path = Path(str(info.get("path", "")))
    digest = str(info.get("sha256", ""))
    size = info.get("bytes")
    try:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M")
    except OSError:
        mtime = ""
    layer = _LAYERS[lang].get(key, key)
    return (
        f"<tr><td>{_esc(layer)}</td>"
        f'<td title="{_esc(path)}"><code>{_esc(path.name)}</code></td>'
        f'<td><span class="hash" title="{_esc(digest)}">{_esc(digest[:12])}</span></td>'
        f'<td class="num">{_count(size, lang)}</td>'
        f'<td class="num">{_esc(mtime)}</td></tr>'
    )


def _method(result: StudyResult, run: dict[str, Any], lang: str) -> str:
    study = result.study
    ind = study.indicators
    walk = _MODES[lang]["walk"]
    cycle = _MODES[lang]["cycle"]

    def mins(v: float, mode: str = "") -> str:
        text = _threshold(v, "min", lang)
        return f"{mode}{text}" if lang == "zh" else (f"{text} {mode}".strip())

    presets = study.targets.describe() if hasattr(study.targets, "describe") else ""
    method = str(result.accounting.get("demand_method", ""))
    kv: list[tuple[str, str]] = [
        (_t(lang, "speeds"), _esc(_speeds(study, lang))),
        (
            _t(lang, "snapping"),
            _esc(
                _t(
                    lang,
                    "snapping_value",
                    walk=study.snapping.walk_limit_m,
                    cycle=study.snapping.cycle_limit_m,
                    tie=study.snapping.oneway_tie_m,
                )
            ),
        ),
        (
            _t(lang, "component"),
            _esc(
                _t(lang, "component_largest")
                if study.network.component == "largest"
                else _t(lang, "component_all")
            ),
        ),
        (
            _t(lang, "a1_set"),
            _esc(
                _t(
                    lang,
                    "set_value",
                    cats=_categories(ind.service_circle, lang),
                    t=mins(ind.circle_min, walk),
                )
            ),
        ),
        (
            _t(lang, "a2_set"),
            _esc(
                _t(
                    lang,
                    "set_value",
                    cats=_categories(ind.rural_services, lang),
                    t=mins(ind.rural_cycle_min, cycle),
                )
            ),
        ),
        (
            _t(lang, "a3"),
            _esc(
                _t(
                    lang,
                    "a3_value",
                    cat=category_label(ind.complex_category, lang),
                    r=ind.complex_radius_m,
                )
            ),
        ),
        (
            _t(lang, "tiers"),
            _esc(("、" if lang == "zh" else ", ").join(mins(t) for t in ind.tiers_min)),
        ),
        (_t(lang, "presets"), _esc(presets)),
        (_t(lang, "crs"), _esc(result.crs)),
        (
            _t(lang, "demand_method"),
            _esc(_DEMAND_METHODS.get(lang, {}).get(method, method)),
        ),
    ]
    cap = getattr(study, "capacity", None)
    if cap is not None and cap.categories:
        kv.append(
            (
                _t(lang, "capacity"),
                _esc(
                    _t(
                        lang,
                        "capacity_value",
                        cats=_categories(cap.categories, lang),
                        t=_threshold(cap.minutes, "min", lang),
                        mode=_MODES[lang].get(cap.mode, cap.mode),
                    )
                ),
            )
        )
    sources = []
    if study.attribution:
        sources.append(_esc(study.attribution))
    net = study.inputs.network
    if net is None or "".join(Path(net).suffixes[-2:]).lower() in (
        ".osm",
        ".pbf",
        ".osm.pbf",
        ".osm.bz2",
        ".bz2",
    ):
        sources.append(_esc(_t(lang, "osm")))
    kv.append((_t(lang, "attribution"), "<br>".join(sources) or TEXT[lang]["none"]))
    networks = run.get("networks") or {}
    for mode, info in networks.items():
        try:
            text = _t(
                lang,
                "network_value",
                nodes=int(info["nodes"]),
                segments=int(info["segments"]),
                km=float(info["length_km"]),
                main_km=float(info["main_component_length_km"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        kv.append((f"{_t(lang, 'networks')}: {_MODES[lang].get(mode, mode)}", _esc(text)))
    settings_rows = [f"<tr><th>{_esc(k)}</th><td>{v}</td></tr>" for k, v in kv]

    files = [_file_row(k, v, lang) for k, v in (run.get("inputs") or {}).items()]
    versions = run.get("versions") or {}
    version_text = " · ".join(f"{_esc(k)} {_esc(v)}" for k, v in versions.items())
    timings = dict(run.get("stage_timings_s") or result.timings_s)
    timing_rows = [
        f'<tr><td>{_esc(_STAGES.get(lang, {}).get(k, k))}</td><td class="num">{_seconds(v, lang)}</td></tr>'
        for k, v in timings.items()
    ]
    if run.get("elapsed_s") is not None:
        timing_rows.append(
            f'<tr><th>{_esc(_t(lang, "total"))}</th><td class="num">{_seconds(run["elapsed_s"], lang)}</td></tr>'
        )
    notes = list(result.notes)
    notes_html = (
        '<ul class="notes">' + "".join(f"<li>{_esc(render(n, lang))}</li>" for n in notes) + "</ul>"
        if notes
        else f"<p>{_esc(_t(lang, 'no_notes'))}</p>"
    )
    return (
        f'<section id="method"><h2>{_esc(_t(lang, "method"))}</h2>'
        f"<p>{_esc(_t(lang, 'method_text'))}</p>"
        f"<h3>{_esc(_t(lang, 'settings'))}</h3>"
        f'<table class="kv"><tbody>{"".join(settings_rows)}</tbody></table>'
        f"<h3>{_esc(_t(lang, 'inputs'))}</h3>"
        + _table(
            [
                (_esc(_t(lang, "layer")), False),
                (_esc(_t(lang, "file")), False),
                (_esc(_t(lang, "sha256")), False),
                (_esc(_t(lang, "size")), True),
                (_esc(_t(lang, "modified")), True),
            ],
            files,
            "files",
        )
        + f"<h3>{_esc(_t(lang, 'notes'))}</h3>{notes_html}"
        f"<h3>{_esc(_t(lang, 'timings'))}</h3>"
        f'<table class="kv"><tbody>{"".join(timing_rows)}</tbody></table>'
        f'<h3>{_esc(_t(lang, "versions"))}</h3><p class="small">{version_text}</p>'
        "</section>"
    )


# -- charts -------------------------------------------------------------------------------


def cumulative_share(
    minutes: npt.ArrayLike, population: npt.ArrayLike, at_min: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Population-weighted share of demand points within each of ``at_min`` minutes.

    Parameters
    ----------
    minutes
        Minutes from each demand point to the nearest facility (``inf``: never).
    population
        Residents of each demand point.
    at_min
        Thresholds, minutes; a point counts when ``minutes <= at + TOLERANCE``
        (the same inclusive rule as the indicators).

    Returns
    -------
    numpy.ndarray
        Share 0–1 for each threshold (all zero when there are no residents).

    Examples
    --------
    >>> cumulative_share([1.0, 5.0, float("inf")], [1.0, 1.0, 2.0], [0.0, 1.0, 5.0, 60.0])
    array([0.  , 0.25, 0.5 , 0.5 ])
    """
    t = np.asarray(minutes, dtype=float)
    pop = np.asarray(population, dtype=float)
    at = np.asarray(at_min, dtype=float)
    total = pop.sum()
    if total <= 0:
        return np.zeros(at.shape)
    order = np.argsort(t, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(pop[order])])
    idx = np.searchsorted(t[order], at + TOLERANCE, side="right")
    return np.asarray(cum[idx] / total, dtype=float)


def _svg(fig: Figure, prefix: str) -> str:
    """Figure -> inline ``<svg>``: no XML header, DOCTYPE or metadata; ids prefixed."""
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    # two charts on one page: every id and reference gets the chart's prefix
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    return svg.strip()


def _draw(prefix: str, draw: Callable[[], Figure]) -> str:
    """Draw a figure with text as text, measured with a CJK font when one is installed."""
    from matplotlib import font_manager, rc_context

    installed = {f.name for f in font_manager.fontManager.ttflist}
    fonts = [f for f in _MPL_CJK_FONTS if f in installed] + ["DejaVu Sans"]
    with (
        rc_context({"svg.fonttype": "none", "font.family": "sans-serif", "font.sans-serif": fonts}),
        warnings.catch_warnings(),
    ):
        # Without a CJK font matplotlib measures Chinese labels with DejaVu Sans and warns
        # for every glyph it lacks; the SVG keeps text as text, so the browser renders it
        # with the viewer's fonts and the warning says nothing about the page.
        warnings.filterwarnings(
            "ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning
        )
        return _svg(draw(), prefix)


def _shorten(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` display columns (CJK characters take two), with an ellipsis."""
    widths = [2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text]
    if sum(widths) <= width:
        return text
    used = np.cumsum(widths)
    return text[: int(np.searchsorted(used, width - 1, side="right"))] + "…"


def _community_chart(result: StudyResult, lang: str) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    comm = result.communities
    col = next((c for c in comm.columns if str(c).startswith("A1_service_circle_")), None)
    if col is None:
        return ""
    spec = next((s for s in result.specs if s.indicator == "A1_service_circle"), None)
    a1_label = indicator_label("A1_service_circle", lang, result.catalogue)
    data = pd.DataFrame(
        {
            "name": comm["name"].astype(str).to_numpy(),
            "kind": (comm["kind"] if "kind" in comm.columns else pd.Series("", index=comm.index))
            .astype(str)
            .to_numpy(),
            "population": comm["population"].to_numpy(dtype=float),
            "value": pd.to_numeric(comm[col], errors="coerce").to_numpy(dtype=float),
        }
    )
    data = data[(data["population"] > 0) & data["value"].notna()]
    if data.empty:
        return ""
    total = len(data)
    data = data.sort_values(["value", "name"], kind="stable").head(CHART_COMMUNITIES)
    data = data.iloc[::-1]  # lowest at the top
    names = [_shorten(n, 36) for n in data["name"]]
    colours = {"urban": "#377eb8", "rural": "#ff7f00"}

    def draw() -> Figure:
        fig = Figure(figsize=(8.0, 1.2 + 0.2 * len(data)), layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(len(data))
        for kind in dict.fromkeys(data["kind"]):
            sel = (data["kind"] == kind).to_numpy()
            ax.barh(
                y[sel],
                data["value"].to_numpy()[sel],
                color=colours.get(kind, "#888888"),
                label=_KINDS[lang].get(kind, kind) or None,
                height=0.7,
            )
        styles = ["--", ":", "-.", (0, (5, 1))]
        lines = sorted(
            {
                (t.target, t.preset, t.scope)
                for t in result.targets
                if t.indicator == "A1_service_circle"
            }
        )
        for k, (target, preset, scope) in enumerate(lines):
            scope_text = _SCOPES[lang].get(scope, scope)
            ax.axvline(
                target,
                color="#c62828",
                linestyle=styles[k % len(styles)],
                linewidth=1.4,
                label=_t(
                    lang,
                    "target_line",
                    v=_target(target, lang),
                    preset=preset,
                    scope=(", " if lang == "en" else "，") + scope_text if scope_text else "",
                ),
            )
        ax.set_yticks(y, names)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylim(-0.6, len(data) - 0.4)
        ax.set_xlim(0, 1.02)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(_t(lang, "share_covered"))
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
        return fig

    svg = _draw("c1", draw)
    cats = _categories(spec.categories, lang) if spec else ""
    t = _threshold(spec.threshold if spec else result.study.indicators.circle_min, "min", lang)
    caption = _t(lang, "chart_communities_caption", label=a1_label, cats=cats, t=t)
    if total > CHART_COMMUNITIES:
        caption += _t(lang, "chart_communities_cut", n=CHART_COMMUNITIES, total=total)
    return (
        f'<figure class="chart" id="chart-communities">'
        f"<h3>{_esc(_t(lang, 'chart_communities', label=a1_label))}</h3>{svg}"
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


#: Facility colours on the report's map, in the order categories are drawn.
_MAP_COLOURS = ("#1f4e9c", "#7b3294", "#008837", "#e66101", "#5e3c99", "#4d4d4d")


def _scale_length(width_m: float) -> float:
    """A round scale-bar length of about a fifth of the map's width, metres.

    >>> _scale_length(12_300), _scale_length(480)
    (2000.0, 50.0)
    """
    target = width_m / 5
    base = 10 ** np.floor(np.log10(target))
    return float(max(m * base for m in (1, 2, 5) if m * base <= target))


def _static_map(result: StudyResult, lang: str) -> str:
    """A self-contained map for the printed report: coverage by community (A1), facilities,
    communities below target and the largest shortfall areas, with scale bar, north arrow,
    legend and data credits."""
    from matplotlib.figure import Figure

    comm = result.communities
    col = next((c for c in comm.columns if str(c).startswith("A1_service_circle_")), None)
    if col is None or comm.empty:
        return ""
    label = indicator_label("A1_service_circle", lang, result.catalogue)

    def draw() -> Figure:
        fig = Figure(figsize=(7.5, 6.0), layout="constrained")
        ax = fig.add_subplot()
        comm.plot(
            ax=ax, column=col, cmap="RdYlGn", vmin=0, vmax=1, edgecolor="#ffffff", linewidth=0.4,
            missing_kwds={"color": "#dddddd", "label": _t(lang, "map_no_residents")},
            legend=True,
            legend_kwds={"label": _t(lang, "map_legend_share"), "shrink": 0.6, "format": "{x:.0%}"},
        )  # fmt: skip
        short = comm[comm["shortfall"]]
        if len(short):
            short.boundary.plot(ax=ax, color="#c62828", linewidth=1.2, linestyle="--")
        areas = result.shortfall_areas
        top = areas[areas["rank"] <= 5] if len(areas) else areas
        if len(top):
            top.plot(ax=ax, facecolor="none", edgecolor="#5f6368", hatch="////", linewidth=0.3)
        for k, cat in enumerate(
            c for c in result.categories if c in set(result.facilities["category"])
        ):
            pts = result.facilities[result.facilities["category"] == cat]
            pts.plot(ax=ax, markersize=4, color=_MAP_COLOURS[k % len(_MAP_COLOURS)],
                     label=category_label(cat, lang))  # fmt: skip
        _map_furniture(ax, comm.total_bounds, lang)
        ax.set_axis_off()
        ax.legend(loc="lower left", fontsize=7, frameon=True, markerscale=2)
        return fig

    svg = _draw("m1", draw)
    credits = result.study.attribution or "OpenStreetMap contributors"
    caption = _t(lang, "map_caption", crs=result.crs, credits=credits)
    return (
        f'<figure class="chart" id="map-communities">'
        f"<h3>{_esc(_t(lang, 'map_title', label=label))}</h3>{svg}"
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _sites_map(result: StudyResult, siting: Any, lang: str) -> str:
    """A static map of the proposed sites (numbered in build order) and what each newly
    covers, over the communities and the existing facilities of the category."""
    from matplotlib.figure import Figure

    s = siting.settings
    cat = _categories((s.category,), lang)
    sites, catch = siting.sites, siting.catchments
    catch = catch[~catch.geometry.is_empty] if len(catch) else catch
    existing = result.facilities[result.facilities["category"] == s.category]
    bounds = result.communities.total_bounds

    def draw() -> Figure:
        fig = Figure(figsize=(7.5, 6.0), layout="constrained")
        ax = fig.add_subplot()
        result.communities.plot(ax=ax, color="#f1f3f4", edgecolor="#9aa0a6", linewidth=0.4)
        if len(existing):
            existing.plot(ax=ax, markersize=5, color="#5f6368",
                          label=_t(lang, "sites_map_existing", category=cat))  # fmt: skip
        if len(catch):
            catch.plot(ax=ax, color="#6a3d9a", alpha=0.3, edgecolor="#6a3d9a", linewidth=0.6)
            ax.fill([], [], color="#6a3d9a", alpha=0.3, label=_t(lang, "sites_map_catchment"))
        ax.scatter(sites.geometry.x, sites.geometry.y, s=170, color="#6a3d9a",
                   edgecolor="#ffffff", linewidth=1.2, zorder=5,
                   label=_t(lang, "sites_map_site"))  # fmt: skip
        for x, y, rank in zip(sites.geometry.x, sites.geometry.y, sites["rank"], strict=True):
            ax.text(x, y, str(int(rank)), color="#ffffff", fontsize=7, ha="center",
                    va="center", zorder=6)  # fmt: skip
        _map_furniture(ax, bounds, lang)
        ax.set_axis_off()
        ax.legend(loc="lower left", fontsize=7, frameon=True)
        return fig

    svg = _draw("m2", draw)
    credits = result.study.attribution or "OpenStreetMap contributors"
    caption = _t(
        lang,
        "sites_map_caption",
        rule=render(rule_message(s), lang),
        existing=_t(lang, "sites_map_dots", category=cat) if len(existing) else "",
        crs=result.crs,
        credits=credits,
    )
    return (
        f'<figure class="chart" id="map-sites">'
        f"<h3>{_esc(_t(lang, 'sites_map_title', category=cat))}</h3>{svg}"
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _map_furniture(ax: Any, bounds: np.ndarray, lang: str) -> None:
    """Scale bar (lower right) and north arrow (upper right), in the map's metres."""
    x0, y0, x1, y1 = (float(b) for b in bounds)
    length = _scale_length(x1 - x0)
    bx, by = x1 - length - 0.03 * (x1 - x0), y0 + 0.03 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="#1d1d1f", linewidth=2.5, solid_capstyle="butt")
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    if lang == "zh":
        text = f"{length / 1000:g} 公里" if length >= 1000 else f"{length:g} 米"
    ax.text(bx + length / 2, by + 0.015 * (y1 - y0), text, ha="center", va="bottom", fontsize=8)
    nx, ny = x1 - 0.04 * (x1 - x0), y1 - 0.12 * (y1 - y0)
    ax.annotate(
        _t(lang, "map_north"),
        xy=(nx, y1 - 0.02 * (y1 - y0)),
        xytext=(nx, ny),
        ha="center",
        fontsize=10,
        arrowprops={"arrowstyle": "-|>", "color": "#1d1d1f", "linewidth": 1.5},
    )


def _cumulative_chart(result: StudyResult, mode: str, lang: str, prefix: str) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    if mode not in result.reach or not result.categories:
        return ""
    ind = result.study.indicators
    threshold = ind.circle_min if mode == "walk" else ind.rural_cycle_min
    x_max = max(30.0, 2 * threshold)
    grid = np.round(np.arange(0.0, x_max + 1e-9, 0.1), 6)
    pop = result.demand.points["population"].to_numpy(dtype=float)
    minutes = result.reach[mode].minutes
    noun = _MODE_NOUN[lang][mode]

    def draw() -> Figure:
        fig = Figure(figsize=(8.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
        for k, cat in enumerate(result.categories):
            share = cumulative_share(minutes[:, k], pop, grid)
            ax.step(
                grid,
                share,
                where="post",
                color=PALETTE[k % len(PALETTE)],
                linewidth=1.6,
                label=category_label(cat, lang),
            )
        ax.axvline(
            threshold,
            color="#444444",
            linestyle="--",
            linewidth=1.0,
            label=_t(lang, "threshold_line", t=_threshold(threshold, "min", lang)),
        )
        ax.set_xlim(0, x_max)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(_t(lang, "minutes_axis", mode=noun))
        ax.set_ylabel(_t(lang, "share_residents"))
        ax.grid(color="#dddddd", linewidth=0.6)
        fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
        return fig

    svg = _draw(prefix, draw)
    t = _threshold(threshold, "min", lang)
    return (
        f'<figure class="chart" id="chart-{mode}">'
        f"<h3>{_esc(_t(lang, 'chart_cumulative', mode=noun))}</h3>{svg}"
        f"<figcaption>{_esc(_t(lang, 'chart_cumulative_caption', mode=noun, t=t))}</figcaption>"
        "</figure>"
    )


# -- the page -----------------------------------------------------------------------------


def _sites(siting: Any, lang: str, result: StudyResult | None = None) -> str:
    """The siting section: rule, proof status, sites in build order, before/after."""
    s = siting.settings
    sol = siting.solution
    proof = (
        _t(lang, "proof_optimal")
        if sol.optimal
        else _t(lang, "proof_gap", bound=sol.bound, gap=sol.gap)
    )
    intro = _t(
        lang,
        "sites_intro",
        category=_categories((s.category,), lang),
        rule=render(rule_message(s), lang),
        scope=_SCOPES[lang].get(s.scope, s.scope),
        model=word("model", s.model, lang),
        method=word("method", sol.method, lang),
        proof=proof,
        seconds=sol.seconds,
        cand=siting.sizes.get("candidates", 0),
        points=siting.sizes.get("demand_points", 0),
        kept=siting.sizes.get("candidates_kept", 0),
        units=siting.sizes.get("demand_units", 0),
    )
    f = siting.figures
    totals = _t(
        lang,
        "sites_totals",
        before=f["covered_before"],
        total=f["residents_counted"],
        share_before=f["share_before"],
        after=f["covered_after"],
        share_after=f["share_after"],
        unreach=f["unreachable_by_any_candidate"],
    )
    heads = [(h, i > 1) for i, h in enumerate(_t(lang, "sites_cols").split("|"))]
    rows = [
        "<tr>"
        f"<td>{int(r['rank'])}</td><td>{_esc(r['candidate_id'])}"
        f'<br><span class="small">{_esc(r.get("community_id", ""))} · '
        f"{r.get('lat', float('nan')):.5f}, {r.get('lon', float('nan')):.5f}</span></td>"
        f'<td class="num">{r["gain_alone"]:,.0f}</td>'
        f'<td class="num">{r["incremental_gain"]:,.0f}</td>'
        f'<td class="num">{_share(r["share_after"], lang)}</td>'
        "</tr>"
        for _, r in siting.sites.iterrows()
    ]
    ba = siting.before_after
    keep = ba[ba["target"].notna() & (ba["change_pp"].abs() > 0)]
    ba_heads = [(h, i > 1) for i, h in enumerate(_t(lang, "ba_cols").split("|"))]
    ba_rows = [
        "<tr>"
        f"<td>{_esc(indicator_label(r['indicator'], lang))}"
        f'<br><span class="small">{_esc(r["indicator"])} · {_esc(r["preset"])}</span></td>'
        f"<td>{_esc(_SCOPES[lang].get(r['scope'], r['scope']))}</td>"
        f'<td class="num">{_target(r["target"], lang)}</td>'
        f'<td class="num">{_share(r["value_before"], lang)}</td>'
        f'<td class="num">{_share(r["value_after"], lang)}</td>'
        f'<td class="num">{r["change_pp"]:+.1f}</td>'
        f"{_status_cell(str(r['status_before']), lang)}"
        f"{_status_cell(str(r['status_after']), lang)}"
        "</tr>"
        for _, r in keep.iterrows()
    ]
    notes = "".join(f"<li>{_esc(render(n, lang))}</li>" for n in siting.notes)
    return (
        f'<section id="sites"><h2>{_esc(_t(lang, "sites"))}</h2>'
        f"<p>{_esc(intro)}</p><p>{_esc(totals)}</p>"
        + _table(heads, rows)
        + (_sites_map(result, siting, lang) if result is not None and len(siting.sites) else "")
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + f"<h3>{_esc(_t(lang, 'before_after'))}</h3>"
        + _table(ba_heads, ba_rows, "before_after")
        + "</section>"
    )


def report_html(
    result: StudyResult, run: dict[str, Any], lang: str = "en", siting: Any = None
) -> str:
    """The self-contained HTML report of a run.

    Parameters
    ----------
    result
        A finished run.
    run
        Its run record (:func:`coverage.report.run_record`): settings, input
        hashes, versions, timings and notes.
    lang
        ``"en"`` or ``"zh"``: every fixed label, indicator and category label.
    siting
        A :class:`coverage.sites.SitingResult` to report (proposed sites and
        before/after figures), or ``None``.

    Returns
    -------
    str
        The page; it loads nothing from anywhere (inline CSS and SVG, no script).

    Examples
    --------
    >>> from coverage.config import demo_study
    >>> from coverage.pipeline import run_study
    >>> from coverage.report import run_record
    >>> result = run_study(demo_study())  # doctest: +SKIP
    >>> page = report_html(result, run_record(result), "zh")  # doctest: +SKIP
    """

    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    study = result.study
    title = f"{study.name} — {_t(lang, 'title')}"
    version = (run.get("versions") or {}).get("service-coverage", "")
    elapsed = run.get("elapsed_s")
    meta = _t(
        lang,
        "run",
        when=_utc(run.get("finished_at_utc")),
        version=version,
        elapsed=_t(lang, "elapsed", s=float(elapsed)) if elapsed is not None else "–",
        crs=result.crs,
    )
    sections = [
        ("findings", _t(lang, "findings")),
        ("summary", _t(lang, "summary")),
        ("headline", _t(lang, "headline")),
        ("charts", _t(lang, "charts")),
        ("shortfalls", _t(lang, "shortfalls")),
        *([("sites", _t(lang, "sites"))] if siting is not None else []),
        ("method", _t(lang, "method")),
    ]
    nav = "".join(f'<a href="#{key}">{_esc(text)}</a>' for key, text in sections)
    charts = "".join(
        [
            _static_map(result, lang),
            _community_chart(result, lang),
            _cumulative_chart(result, "walk", lang, "c2"),
            _cumulative_chart(result, "cycle", lang, "c3"),
        ]
    )
    body = "".join(
        [
            f'<header><h1>{_esc(title)}</h1><p class="meta">{_esc(meta)}</p>'
            f"<nav>{nav}</nav></header>",
            _findings(result, lang, siting),
            _summary(result, lang),
            _headline(result, rounded_indicators(result.indicators), lang),
            f'<section id="charts"><h2>{_esc(_t(lang, "charts"))}</h2>{charts}</section>',
            _shortfalls(result, lang),
            _sites(siting, lang, result) if siting is not None else "",
            _method(result, run, lang),
            f'<footer class="small">{_esc(_t(lang, "footer", version=version))}</footer>',
        ]
    )
    html_lang = "zh-CN" if lang == "zh" else "en"
    # the policy forbids scripts and every external load, even if a string slipped through
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
