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

from coverage.categories import label

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
