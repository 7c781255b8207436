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

__all__ = ["Message", "Note", "render", "render_all", "word"]

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
        "measure_value": "{measure} {value}",
        "rule_straight": "within {metres} m in a straight line",
        "rule_minutes": "within {minutes} min by {mode}",
        "rule_network": "within {metres} m along the walk network",
        "progress_read": "reading and validating the input layers",
        "progress_networks": "building the walk and cycle networks",
        "progress_demand": "placing demand points",
        "progress_reach": "{mode}: snapping, nearest facilities and catchments",
        "progress_indicators": "computing indicators against targets",
        "progress_siting": "siting: candidates, coverage sets, solving, and the what-if with the new sites",
        "progress_write": "writing outputs to {out}",
        "progress_catchments": "{mode}: catchments",
        "progress_share": "{stage}: {percent} %",
        "progress_output": "writing {name}",
        # refusals of the workbench server (coverage.workbench, coverage.serve)
        "bad_body": 'the request body is not a scenario: give {{"add": [{{"category", "lon", "lat"}}], "remove": [facility ids]}}',
        "bad_text": "{field}: give text of 1 to {most} characters without markup",
        "bad_number": "{field}: give a number in range",
        "too_many": "a scenario adds at most {most} facilities",
        "unknown_category": "unknown category '{category}': use one of {valid}",
        "unknown_facility": "{id} is not a facility of the study",
        "outside": "{id} at ({lon}, {lat}) is outside the study area: place it inside or near the communities",
        "unknown_indicator": "unknown indicator {indicator}",
        "nothing_added": "the scenario adds no facility",
        "no_name": "give the scenario a name",
        "no_scenario": "no saved scenario named {name}",
        "too_large": "the request is larger than {most} bytes",
        "bad_token": "this server needs the token printed when it started (open the address it printed)",
        "not_found": "not found",
        "bad_json": "the request body is not JSON",
        "refused": "{text}",
        "serving": "the workbench is at {address} (Ctrl+C stops it)",
        # notes of a run (coverage.layers, inputs, pipeline, rules, sites)
        "no_kind": "communities have no 'kind' column: all treated as urban",
        "osm_facilities": "facilities: {count} taken from OpenStreetMap, whose completeness is unknown: a category with no feature reads 'no data', and a figure with data may still miss facilities OpenStreetMap lacks",
        "kind_codes": "communities: urban or rural read from the statistical urban-rural codes (111-123 urban, 210 and 220 rural)",
        "polygon_facilities": "{count} polygon facilities replaced by their representative point",
        "population_repaired": "{count} invalid population polygons repaired with make_valid",
        "no_workers": "workplaces carry no 'workers' column: each counts once",
        "speed_unused": "speeds: the {mode} speed for highway={highway} applies to no street of the {mode} network",
        "boundaries_repaired": "communities: {count} invalid boundaries were repaired with make_valid (coordinates in the layer's CRS): {listed}; check that the repaired shapes are what was meant",
        "slivers": "{count} sliver overlap(s) between communities ({area_m2} m² in all, each at most {share} of the smaller community, the largest between {first} and {second}) were given to the community earlier in the layer",
        "far_features": "{layer}: {count} of {total} features lie more than {km} km from every community ({listed}); they reach no resident of the study: check their coordinates if they should",
        "dense_raster": "check the population raster: {count} cell(s) hold more than {limit} residents per km² (the largest, row {row} column {col}, {residents} residents in {cell_m2} m², i.e. {density} per km²); if {file} gives a density rather than residents per cell, convert it (residents = density × cell area). Shares are unaffected; resident counts are not",
        "datum_shift": "{layer}: coordinates converted from {datum} to WGS84 (median shift {shift_m} m)",
        "raster_cover": "the population raster does not cover {count} of {total} communities in full ({listed}): their residents beyond its edge are unknown, so their figures rest on the covered part only; give a raster that covers the study area",
        "share_inside": "{id} ({share} inside)",
        "raster_nodata": "population raster: {count} of {total} cells are nodata (no residents there)",
        "in_no_area": "{count} of {total} communities lie in no area (e.g. {example}): they are in no area's figures; extend the areas to cover them",
        "in_several_areas": "{count} communities lie in several areas (e.g. {example}): each is counted in the first of them in the areas layer, once",
        "whatif": "what-if: {added} facilities added, {removed} removed",
        "whatif_bound": "what-if: travel times beyond {walk} min walking, {cycle} min cycling and {metres} m along the walk network (the largest thresholds in use) were not searched from the added facilities: such times are upper bounds; every figure compared with a threshold is exact (what_if(exact=True) for exact times)",
        "capacity_missing": "2SFCA {category}: {count} facilities lack a capacity and count as 0 places",
        "off_network": "{share} of residents are farther than the {mode} snapping limit from the {mode} network and count as not covered: check that the network covers every community",
        "no_population_layer": "no population layer: each community's population was spread evenly over the network nodes inside it (the weakest option)",
        "outside_population": "{residents} residents of the population layer ({share}) lie outside every community (in gaps between boundaries or beyond them): they are in no figure",
        "empty_community": "1 community receives no residents from the population layer (e.g. {example}): check that the layer covers them",
        "empty_communities": "{count} communities receive no residents from the population layer (e.g. {example}): check that the layer covers them",
        "declared_differs": "{count} communities declare a population that differs from the population layer by more than one resident (e.g. {example}); the population layer is used",
        "declared_total": "check the population layer: it puts {layer_total} residents in the {count} communities that declare {declared} ({ratio} times as many); a density read as residents per cell, or another unit, gives such totals. Shares are unaffected; resident counts are not",
        "absent": "no data: no {categories} facilities were given (give them in the facilities layer, or list the category in [inputs] surveyed_categories if the study area has none)",
        "surveyed_none": "no {categories} facilities (surveyed: the study area has none)",
        "absent_brief": "no {categories} facilities were given",
        "when_unknown": "{count} communities lack {measure} and were not checked",
        "no_column": "the facilities layer has no {column} column",
        "column_missing": "{count} counted facilities lack {column} (counted as 0)",
        "rule_unknown": "{count} applicable communities lack {measure} and are left out",
        "over_workplaces": "counted over workplaces, weighted by workers",
        "no_workplaces": "counted over industrial parks and office buildings: give [inputs] workplaces (points or polygons, optional `workers` column)",
        "candidates_off": "{count} candidates are beyond the snapping limit and can cover no one",
        "p_median": "p-median: residents' total travel time (capped at {minutes} min) falls from {before} to {after} resident-minutes; the sites' gains are residents newly within the time",
        "out_of_reach": "{residents} uncovered residents are out of reach of every candidate",
        "generated": "{count} candidates generated: walk-network nodes every {spacing_m} m inside the {within}",
        "best_k": "for some k the first k sites in build order cover fewer residents than the best k of the candidates (column best_k_new)",
        "infeasible_target": "the target needs {need} more residents covered but all candidates together reach {reachable}: solved for the highest feasible coverage",
        "not_proven": "not proven optimal: the solution is within {gap} of the best possible ({method}, {seconds} s)",
    },
    "zh": {
        "beyond": "{category}（{residents} 名居民超出{threshold}{unit}）",
        "worst": "{category}：{value}{unit}",
        "unreachable": "{category}：不可达",
        "lacks": "缺少{items}",
        "lacks_item": "{category}（现有 {count}，要求{bounds}）",
        "measure": "{measure} {value}{unit}（要求{bounds}）",
        "measure_value": "{measure} {value}",
        "rule_straight": "直线距离 {metres} 米以内",
        "rule_minutes": "{mode} {minutes} 分钟以内",
        "rule_network": "沿步行路网 {metres} 米以内",
        "progress_read": "读取并检查输入图层",
        "progress_networks": "构建步行与骑行路网",
        "progress_demand": "生成需求点",
        "progress_reach": "{mode}：接入路网、最近设施与服务范围",
        "progress_indicators": "对照目标计算指标",
        "progress_siting": "选址：候选点、覆盖集合、求解及新增设施后的情景测算",
        "progress_write": "写出结果到 {out}",
        "progress_catchments": "{mode}：服务范围",
        "progress_share": "{stage}：{percent}%",
        "progress_output": "写出 {name}",
        "bad_body": '请求内容不是有效的情景：应为 {{"add": [{{"category", "lon", "lat"}}], "remove": [设施编号]}}',
        "bad_text": "{field}：请填写 1–{most} 个字符的文字（不含标记）",
        "bad_number": "{field}：请填写范围内的数字",
        "too_many": "一个情景最多新增 {most} 处设施",
        "unknown_category": "未知设施类别“{category}”：可用类别为 {valid}",
        "unknown_facility": "{id} 不是本研究的设施",
        "outside": "{id}（{lon}, {lat}）位于研究区以外：请放在社区内或社区附近",
        "unknown_indicator": "未知指标 {indicator}",
        "nothing_added": "该情景没有新增设施",
        "no_name": "请为情景命名",
        "no_scenario": "没有名为 {name} 的已保存情景",
        "too_large": "请求超过 {most} 字节",
        "bad_token": "此服务需要启动时显示的令牌（请打开启动时显示的地址）",
        "not_found": "未找到",
        "bad_json": "请求内容不是 JSON",
        "refused": "{text}",
        "serving": "情景工作台地址：{address}（按 Ctrl+C 停止）",
        "no_kind": "社区图层无 kind（城乡属性）列：全部按城市社区处理",
        "osm_facilities": "设施：{count} 处取自 OpenStreetMap，其完整性未知：没有要素的类别显示为“无数据”，有数据的指标也可能遗漏 OpenStreetMap 未收录的设施",
        "kind_codes": "社区城乡属性按统计用城乡划分代码确定（111–123 为城镇，210、220 为乡村）",
        "polygon_facilities": "{count} 处面状设施以其内部代表点计",
        "population_repaired": "{count} 个无效的人口面已自动修复",
        "no_workers": "就业地点图层无 workers（就业人数）列：每处按 1 计",
        "speed_unused": "速度设置：{mode}路网中没有 highway={highway} 的道路，该速度未被使用",
        "boundaries_repaired": "社区图层：{count} 个无效边界已自动修复（坐标为图层坐标系）：{listed}；请核对修复后的形状",
        "slivers": "社区之间有 {count} 处细小重叠（共 {area_m2} 平方米，每处不超过较小社区的 {share}，最大的一处在 {first} 与 {second} 之间），已划归图层中靠前的社区",
        "far_features": "{layer}：{total} 个要素中有 {count} 个距所有社区超过 {km} 公里（{listed}），不服务研究区任何居民；如不应如此，请检查其坐标",
        "dense_raster": "请检查人口栅格：{count} 个像元每平方公里超过 {limit} 人（最大者第 {row} 行第 {col} 列，{cell_m2} 平方米内 {residents} 人，即每平方公里 {density} 人）；如 {file} 给出的是人口密度而非每像元人数，请换算（人数 = 密度 × 像元面积）。覆盖率不受影响，人数受影响",
        "datum_shift": "{layer}：坐标已由 {datum} 转换为 WGS84（中位偏移 {shift_m} 米）",
        "raster_cover": "人口栅格未完整覆盖 {total} 个社区中的 {count} 个（{listed}）：栅格以外的居民未知，这些社区的数字只反映被覆盖的部分；请提供覆盖整个研究区的栅格",
        "share_inside": "{id}（栅格内 {share}）",
        "raster_nodata": "人口栅格：{total} 个像元中有 {count} 个为无数据（按无居民计）",
        "in_no_area": "{total} 个社区中有 {count} 个不在任何区域内（如 {example}）：不计入任何区域的数字；请扩大区域范围",
        "in_several_areas": "{count} 个社区同时位于多个区域（如 {example}）：只计入区域图层中的第一个",
        "whatif": "情景测试：新增设施 {added} 处，移除 {removed} 处",
        "whatif_bound": "情景测试：从新增设施出发只搜索步行 {walk} 分钟、骑行 {cycle} 分钟、沿步行路网 {metres} 米以内（所用的最大阈值）；超出部分的出行时间为上限值，与阈值比较的各项数字均精确（精确时间请用 what_if(exact=True)）",
        "capacity_missing": "容量可达性（2SFCA）{category}：{count} 处设施缺少容量，按 0 计",
        "off_network": "{share} 的居民距{mode}路网超过接入距离上限，按未覆盖计：请检查路网是否覆盖每个社区",
        "no_population_layer": "未提供人口图层：各社区人口平均分配到社区内的路网节点（精度最低的方式）",
        "outside_population": "人口图层中 {residents} 名居民（{share}）位于所有社区以外（边界之间的空隙或边界以外），不计入任何数字",
        "empty_community": "1 个社区从人口图层中得不到居民（{example}）：请检查人口图层是否覆盖该社区",
        "empty_communities": "{count} 个社区从人口图层中得不到居民（如 {example}）：请检查人口图层是否覆盖这些社区",
        "declared_differs": "{count} 个社区填报的人口与人口图层相差超过 1 人（如 {example}）；以人口图层为准",
        "declared_total": "请检查人口图层：它在填报人口合计 {declared} 人的 {count} 个社区内给出 {layer_total} 人（{ratio} 倍）；把密度当作每像元人数或单位不同会出现这种情况。覆盖率不受影响，人数受影响",
        "absent": "无数据：未提供{categories}设施（请在设施图层中提供；如研究区确无此类设施，请在 [inputs] surveyed_categories 中列出）",
        "surveyed_none": "经调查，研究区无{categories}设施",
        "absent_brief": "未提供{categories}设施",
        "when_unknown": "{count} 个社区缺少{measure}，未作检查",
        "no_column": "设施图层无{column}列",
        "column_missing": "{count} 处计入的设施缺少{column}（按 0 计）",
        "rule_unknown": "{count} 个适用社区缺少{measure}，未计入",
        "over_workplaces": "按就业地点计算，以就业人数加权",
        "no_workplaces": "按产业园区和商务楼宇计算：请在 [inputs] workplaces 中提供就业地点（点或面，可选 workers 就业人数列）",
        "candidates_off": "{count} 个候选点超出接入距离上限，不能覆盖任何居民",
        "p_median": "P-中位模型：居民出行总时间（上限 {minutes} 分钟）由 {before} 降至 {after} 人·分钟；各点的新增数为新进入时间阈值的居民",
        "out_of_reach": "{residents} 名未覆盖居民不在任何候选点的服务范围内",
        "generated": "生成 {count} 个候选点：{within}内每隔 {spacing_m} 米取一个步行路网节点",
        "best_k": "对某些 k，按建设顺序的前 k 处覆盖的居民少于最优的任意 k 处（见 best_k_new 列）",
        "infeasible_target": "目标需再覆盖 {need} 名居民，但全部候选点合计只能覆盖 {reachable} 名：按可达到的最高覆盖率求解",
        "not_proven": "未证明最优：所得方案与理论最优相差不超过 {gap}（{method}，{seconds} 秒）",
    },
}

_UNITS = {
    "en": {"min": "min", "m": "m", "m²": " m²", "per100": " m² per 100 households",
           "per1000": " places per 1 000 residents", "": ""},
    "zh": {"min": "分钟", "m": "米", "m²": " 平方米", "per100": " 平方米/百户",
           "per1000": " 个/千人", "": ""},
}  # fmt: skip

#: Words of message parameters other than categories, units and measures, per language.
_WORDS: dict[str, dict[str, dict[str, str]]] = {
    "zh": {
        "mode": MODE_LABELS["zh"],
        "layer": {
            "communities": "社区图层",
            "facilities": "设施图层",
            "population": "人口图层",
            "workplaces": "就业地点图层",
            "candidates": "候选点图层",
            "network (walk)": "步行路网",
            "network (cycle)": "骑行路网",
        },
        "within": {"study area": "研究区", "uncovered demand": "未覆盖居民所在区域"},
        "datum": {"GCJ-02": "GCJ-02（国测局坐标）", "BD-09": "BD-09（百度坐标）"},
        "method": {"milp": "混合整数规划", "greedy": "贪心算法"},
        "model": {
            "mclp": "最大覆盖模型（MCLP）",
            "set_cover": "集合覆盖模型",
            "p_median": "P-中位模型",
            "test": "候选点测试",
        },
        "column": {
            "floor_area_m2": "建筑面积（floor_area_m2）",
            "capacity": "容量（capacity）",
        },
    }
}

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

    def __str__(self) -> str:
        """The English rendering (tables written for machines, ``run.json``)."""
        return render(self, "en")


class Note(str):
    """Text of messages in English that keeps the messages, for table cells.

    A table written to a file holds the English text; a report renders
    ``messages`` in its reader's language.

    Examples
    --------
    >>> n = Note.of([Message("surveyed_none", {"categories": ["post"]})])
    >>> n
    'no post facilities (surveyed: the study area has none)'
    >>> render(n, "zh")
    '经调查，研究区无邮政快递设施'
    """

    messages: tuple[Message, ...]

    def __new__(cls, text: str, messages: tuple[Message, ...] = ()) -> Note:
        note = super().__new__(cls, text)
        note.messages = messages
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        return (Note, (str(self), self.messages))

    @classmethod
    def of(cls, messages: list[Message] | tuple[Message, ...]) -> Note:
        """The messages joined as one note."""
        return cls(render_all(list(messages), "en"), tuple(messages))


def _value(key: str, value: Any, lang: str) -> str:
    if isinstance(value, Message):
        return render(value, lang)
    if key == "categories":
        cats = value if isinstance(value, list | tuple) else [value]
        sep = "、" if lang == "zh" else ", "
        return sep.join(label(str(c), lang) if lang == "zh" else str(c) for c in cats)
    if isinstance(value, list | tuple):
        sep = "；" if lang == "zh" else ", "
        return sep.join(_value(key, v, lang) for v in value)
    if key.endswith("category"):
        return label(str(value), lang) if lang == "zh" else str(value)
    if key in _WORDS.get(lang, {}) and str(value) in _WORDS[lang][key]:
        return _WORDS[lang][key][str(value)]
    if key == "unit":
        return _UNITS.get(lang, _UNITS["en"]).get(str(value), str(value))
    if key == "measure":
        return _MEASURES.get(lang, {}).get(str(value), str(value))
    if isinstance(value, float) and key in ("residents", "count"):
        return f"{value:,.0f}"
    return str(value)


def word(kind: str, value: str, lang: str) -> str:
    """A parameter word in ``lang`` (``kind``: ``mode``, ``model``, ``method``, ``layer``…).

    >>> word("model", "mclp", "zh")
    '最大覆盖模型（MCLP）'
    >>> word("model", "mclp", "en")
    'mclp'
    """
    return _WORDS.get(lang, {}).get(kind, {}).get(value, value)


def render(message: Message | str, lang: str = "en") -> str:
    """A message in ``lang`` (``en`` or ``zh``).

    A :class:`Note` renders its messages; other text is returned as it is.
    """
    if isinstance(message, Note):
        return render_all(list(message.messages), lang) if message.messages else str(message)
    if isinstance(message, str):
        return message
    templates = TEMPLATES.get(lang, TEMPLATES["en"])
    params = {k: _value(k, v, lang) for k, v in message.params.items()}
    return templates[message.code].format(**params)


def render_all(messages: list[Message] | list[Message | str], lang: str = "en") -> str:
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
        "gini": "基尼系数（社区间）",
        "palma": "帕尔马比值（社区间）",
        "below_half_target_share": "覆盖率低于目标一半的社区居民比例",
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
    "en": {
        "outputs": "outputs in {out}",
        "finished": "finished in {s:.1f} s",
        "note": "note: {note}",
        "clock": "{s:6.1f} s",
        "map": "map: {name}, {mb:.1f} MB, self-contained ({where})",
        "map_none": "no basemap: opens with no network at all",
        "map_osm": "OpenStreetMap basemap",
        "map_tiles": "basemap {tiles}",
        "proven": "proven optimal",
        "unproven": "not proven optimal (bound {bound:,.0f}, gap {gap:.2%})",
        "siting": "siting ({model}, {category} {rule}, {scope}): {method}, {proof}, {seconds:.2f} s; problem {cand} candidates x {points} demand points reduced to {kept} x {units}",
        "site_head": "{rank:>4}  {site:<24} {alone:>10} {added:>10} {after:>11}",
        "site_cols": "rank|site|alone|added|share after",
        "site_totals": "covered before {before:,.0f} ({share_before:.1f} %), after {after:,.0f} ({share_after:.1f} %) of {total:,.0f}; out of reach of every candidate: {unreachable:,.0f}",
    },
    "zh": {
        "outputs": "输出目录：{out}",
        "finished": "用时 {s:.1f} 秒",
        "note": "说明：{note}",
        "clock": "{s:6.1f} 秒",
        "map": "地图：{name}，{mb:.1f} MB，单文件可离线打开（{where}）",
        "map_none": "无底图：完全无需网络",
        "map_osm": "OpenStreetMap 底图",
        "map_tiles": "底图 {tiles}",
        "proven": "已证明最优",
        "unproven": "未证明最优（上界 {bound:,.0f}，差距 {gap:.2%}）",
        "siting": "选址（{model}，{category}，{rule}，{scope}）：{method}，{proof}，{seconds:.2f} 秒；问题规模由 {cand} 个候选点 × {points} 个需求点缩减为 {kept} × {units}",
        "site_head": "{rank:>4}  {site:<24} {alone:>10} {added:>10} {after:>11}",
        "site_cols": "序号|拟建点|单独新增|依次新增|建成后覆盖率",
        "site_totals": "建设前覆盖 {before:,.0f} 人（{share_before:.1f}%），建成后 {after:,.0f} 人（{share_after:.1f}%），共 {total:,.0f} 人；任何候选点均无法覆盖：{unreachable:,.0f} 人",
    },
}

#: The note of a row with nothing to say.
NO_NOTE = Note("")


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


#: The workbench page's words per language (``service-coverage serve``).
WEB_LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Scenario workbench",
        "hint": "Click the map to add a facility of the chosen category; drag it to move it; click it to remove it. Click an existing facility to take it away (click again to restore).",
        "h_edit": "Scenario",
        "l_category": "add:",
        "l_indicator": "colour communities by:",
        "reset": "reset",
        "h_table": "Plan targets: baseline and scenario",
        "columns": "indicator|target|baseline|scenario|change (pp)|change (residents)|status",
        "target": "target",
        "percent": " %",
        "newly": "{n} residents newly within {t} {unit} ({mode}) of {cat}.",
        "added": "added {cat} at {lon}, {lat}",
        "h_optimise": "Optimiser",
        "l_p": "sites p",
        "l_share": "or target share %",
        "optimise": "propose sites",
        "proposal": "site {rank}: {alone} alone, {added} in build order",
        "keep": "keep",
        "drop": "drop",
        "h_scenarios": "Saved scenarios",
        "name_placeholder": "scenario name",
        "save": "save",
        "load": "load",
        "delete": "delete",
        "compare": "compare the two ticked",
        "pick_two": "tick two saved scenarios to compare",
        "h_export": "Export",
        "export_candidates": "candidates file",
        "export_report": "report",
        "export_workbook": "workbook",
        "status_busy": "computing…",
        "status_ready": "up to date",
        "status_error": "refused",
        "status_optimising": "optimising…",
        "status_exporting": "writing…",
        "units": {"m": "m", "min": "min"},
        "modes": MODE_LABELS["en"],
        "statuses": STATUS_LABELS["en"],
        "scopes": SCOPE_LABELS["en"],
    },
    "zh": {
        "title": "情景工作台",
        "hint": "在地图上单击即可新增所选类别的设施；拖动可移动；再次单击可删除。单击现有设施可将其移除（再次单击恢复）。",
        "h_edit": "情景",
        "l_category": "新增：",
        "l_indicator": "社区着色指标：",
        "reset": "重置",
        "h_table": "规划目标：现状与情景",
        "columns": "指标|目标|现状|情景|变化（百分点）|变化（人）|状态",
        "target": "目标",
        "percent": "%",
        "newly": "新增 {n} 名居民进入{cat}{mode}{t}{unit}范围。",
        "added": "新增{cat}：经度 {lon}，纬度 {lat}",
        "h_optimise": "选址优化",
        "l_p": "选址数 p",
        "l_share": "或目标覆盖率 %",
        "optimise": "提出选址方案",
        "proposal": "拟建点 {rank}：单独新增 {alone} 人，按建设顺序新增 {added} 人",
        "keep": "保留",
        "drop": "舍弃",
        "h_scenarios": "已保存的情景",
        "name_placeholder": "情景名称",
        "save": "保存",
        "load": "载入",
        "delete": "删除",
        "compare": "比较勾选的两个情景",
        "pick_two": "请勾选两个已保存的情景进行比较",
        "h_export": "导出",
        "export_candidates": "候选点文件",
        "export_report": "报告",
        "export_workbook": "工作簿",
        "status_busy": "计算中…",
        "status_ready": "已更新",
        "status_error": "请求被拒绝",
        "status_optimising": "优化中…",
        "status_exporting": "生成中…",
        "units": {"m": "米", "min": "分钟"},
        "modes": MODE_LABELS["zh"],
        "statuses": STATUS_LABELS["zh"],
        "scopes": SCOPE_LABELS["zh"],
    },
}
