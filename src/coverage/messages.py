"""Messages carried as codes with parameters, rendered per language.

A figure's explanation (why a community falls short, what a rule found) is
kept as a :class:`Message`: a code and its parameters. Tables written for
machines carry the English rendering; reports render the reader's language,
with the plans' Chinese terms for categories and units. Nothing is parsed back
from English text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coverage.categories import MODE_LABELS, STATUS_LABELS, label

__all__ = ["Message", "render", "render_all"]

#: code -> template, per language. Parameters ending in ``category`` are
#: category ids (rendered as the language's label), ``unit`` a unit word,
#: ``measure`` a rule measure, ``count``/``residents`` numbers.
TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "beyond": "{category} ({residents} residents beyond {threshold} {unit})",
        "worst": "{category}: {value} {unit}",
        "unreachable": "{category}: unreachable",
        "lacks": "lacks {items}",
        "lacks_item": "{category} ({count} of {bounds})",
        "measure": "{measure} {value}{unit} (needs {bounds})",
    },
    "zh": {
        "beyond": "{category}（{residents} 名居民超出{threshold}{unit}）",
        "worst": "{category}：{value}{unit}",
        "unreachable": "{category}：不可达",
        "lacks": "缺少{items}",
        "lacks_item": "{category}（现有 {count}，要求{bounds}）",
        "measure": "{measure} {value}{unit}（要求{bounds}）",
    },
}

_UNITS = {
    "en": {"min": "min", "m": "m", "m²": " m²", "per100": " m² per 100 households",
           "per1000": " places per 1 000 residents", "": ""},
    "zh": {"min": "分钟", "m": "米", "m²": " 平方米", "per100": " 平方米/百户",
           "per1000": " 个/千人", "": ""},
}  # fmt: skip

_MEASURES = {
    "zh": {
        "floor_area_m2": "建筑面积",
        "floor_area_m2_per_100_households": "每百户建筑面积",
        "capacity_per_1000_residents": "每千人床位/托位",
        "households": "户数",
        "residents": "常住人口",
        "facilities": "设施数",
    }
}


@dataclass(frozen=True)
class Message:
    """A code and its parameters.

    Examples
    --------
    >>> m = Message("beyond", {"category": "health", "residents": 1234.0, "threshold": 15, "unit": "min"})
    >>> render(m, "en")
    'health (1,234 residents beyond 15 min)'
    >>> render(m, "zh")
    '社区卫生服务站/村卫生室（1,234 名居民超出15分钟）'
    """

    code: str
    params: dict[str, Any] = field(default_factory=dict)


def _value(key: str, value: Any, lang: str) -> str:
    if isinstance(value, Message):
        return render(value, lang)
    if isinstance(value, list | tuple):
        sep = "；" if lang == "zh" else ", "
        return sep.join(_value(key, v, lang) for v in value)
    if key.endswith("category"):
        return label(str(value), lang) if lang == "zh" else str(value)
    if key == "unit":
        return _UNITS.get(lang, _UNITS["en"]).get(str(value), str(value))
    if key == "measure":
        return _MEASURES.get(lang, {}).get(str(value), str(value))
    if isinstance(value, float) and key in ("residents", "count"):
        return f"{value:,.0f}"
    return str(value)


def render(message: Message, lang: str = "en") -> str:
    """A message in ``lang`` (``en`` or ``zh``)."""
    templates = TEMPLATES.get(lang, TEMPLATES["en"])
    params = {k: _value(k, v, lang) for k, v in message.params.items()}
    return templates[message.code].format(**params)


def render_all(messages: list[Message], lang: str = "en") -> str:
    """Several messages joined as a list in ``lang``."""
    sep = "；" if lang == "zh" else "; "
    return sep.join(render(m, lang) for m in messages)


#: Table column names per language (the workbook's headers); ids of indicators stay ids.
COLUMN_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "indicator": "指标",
        "scope": "范围",
        "mode": "方式",
        "minutes_or_metres": "阈值（分钟或米）",
        "categories": "设施类别",
        "target": "目标",
        "value": "现状值",
        "status": "状态",
        "gap": "差距",
        "covered_population": "覆盖人口",
        "total_population": "总人口",
        "communities_fully_covered": "全覆盖社区数",
        "communities_with_residents": "有居民社区数",
        "target_year": "目标年份",
        "binding": "约束性",
        "wording_zh": "规划表述",
        "wording_en": "规划表述（英文）",
        "source": "出处",
        "note": "备注",
        "preset": "目标方案",
        "community_id": "社区编码",
        "name": "名称",
        "kind": "城乡属性",
        "population": "常住人口",
        "households": "户数",
        "area_km2": "面积（平方公里）",
        "density_per_km2": "人口密度（人/平方公里）",
        "short_indicators": "未达标指标",
        "shortfall": "未达标",
        "off_network_population_walk": "未接入路网人口（步行）",
        "off_network_population_cycle": "未接入路网人口（骑行）",
        "uncovered_population": "未覆盖人口",
        "missing_categories": "缺少的设施类别（超出阈值的居民）",
        "worst_nearest": "到最近设施的最长用时",
        "rank": "序号",
        "candidate_id": "候选点编号",
        "source_id": "来源",
        "gain_alone": "单独新增覆盖人口",
        "incremental_gain": "依次新增覆盖人口",
        "cumulative_new": "累计新增覆盖人口",
        "covered_after": "建成后覆盖人口",
        "share_after": "建成后覆盖率",
        "best_k_new": "任选k处最多新增覆盖人口",
        "x_m": "x（米）",
        "y_m": "y（米）",
        "lon": "经度",
        "lat": "纬度",
        "key": "参数",
    },
}

#: Workbook sheet names per language.
SHEET_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "headline": "主要指标",
        "indicators": "指标汇总",
        "community_indicators": "各社区指标",
        "communities": "社区",
        "shortfalls": "未达标社区",
        "sites": "选址",
        "settings": "运行参数",
    },
}

#: Scopes of indicator rows in words, per language (reports, workbook, console).
SCOPE_LABELS: dict[str, dict[str, str]] = {
    "en": {"all": "whole area", "urban": "urban", "rural": "rural"},
    "zh": {"all": "全域", "urban": "城市社区", "rural": "乡村社区"},
}

#: Cell values translated in the workbook per language: statuses, scopes, modes and the
#: source of a candidate site (the words shared with the map and report, in one place each).
VALUE_LABELS: dict[str, dict[str, str]] = {
    "zh": STATUS_LABELS["zh"]
    | SCOPE_LABELS["zh"]
    | MODE_LABELS["zh"]
    | {"user": "用户提供", "generated": "路网节点生成"},
}


#: The command line's own words per language.
CLI_LABELS: dict[str, dict[str, str]] = {
    "en": {"outputs": "outputs in {out}", "finished": "finished in {s:.1f} s"},
    "zh": {"outputs": "输出目录：{out}", "finished": "用时 {s:.1f} 秒"},
}


#: The batch's index page per language (``batch.gather``).
BATCH_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "service-coverage batch",
        "heading": "Batch of {n} areas",
        "a1": "A1: share of all residents with every service-circle category within the walking time.",
        "area": "area",
        "name": "name",
        "status": "status",
        "residents": "residents",
        "outputs": "outputs",
        "map": "map",
        "report": "report",
        "indicators": "indicators",
        "done": "done",
        "skipped": "skipped",
        "failed": "failed",
    },
    "zh": {
        "title": "服务设施覆盖分析：批量运行",
        "heading": "批量运行：{n} 个区域",
        "a1": "A1：步行时间内可达服务圈全部类别设施的居民占全部居民的比例。",
        "area": "区域",
        "name": "名称",
        "status": "状态",
        "residents": "常住人口",
        "outputs": "输出",
        "map": "地图",
        "report": "报告",
        "indicators": "指标表",
        "done": "完成",
        "skipped": "跳过（已有结果）",
        "failed": "失败",
    },
}
