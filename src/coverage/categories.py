"""The facility category vocabulary: English id and Chinese label (METHOD.md)."""

from __future__ import annotations

#: category id -> (Chinese label, English label)
CATEGORIES: dict[str, tuple[str, str]] = {
    "community_service": ("社区综合服务站/党群服务中心", "community service station"),
    "community_complex": ("社区综合体", "community complex"),
    "health": ("社区卫生服务站/村卫生室", "community health station / village clinic"),
    "kindergarten": ("幼儿园", "kindergarten"),
    "nursery": ("托儿所", "nursery"),
    "elderly_care": ("养老服务设施", "elderly-care facility"),
    "primary_school": ("小学", "primary school"),
    "middle_school": ("初中", "middle school"),
    "supermarket": ("综合超市", "supermarket"),
    "convenience": ("便利店", "convenience store"),
    "market": ("农贸市场", "farmers' market"),
    "culture": ("文化服务中心", "culture centre"),
    "sports": ("健身场地", "fitness ground"),
    "police": ("警务室", "community police office"),
    "post": ("邮政快递", "post and parcel point"),
    "pharmacy": ("药店", "pharmacy"),
    "self_service": ("自助公共服务终端", "self-service public terminal"),
    "legal_aid": ("公共法律服务站/法律援助", "legal-aid and public legal service point"),
    "breakfast": ("早餐店", "breakfast shop"),
    "laundry": ("洗染店", "laundry and dry cleaner"),
    "hairdresser": ("美容美发店", "hairdresser"),
    "repair": ("维修点", "repair point (appliances, shoes, keys)"),
}

#: Travel modes in words, per language (reports and map).
MODE_LABELS = {
    "en": {"walk": "walk", "cycle": "cycle", "straight": "straight line", "rule": "rule"},
    "zh": {"walk": "步行", "cycle": "骑行", "straight": "直线距离", "rule": "规则"},
}

#: Indicator statuses in words, per language (reports and map).
STATUS_LABELS = {
    "en": {
        "met": "met",
        "short": "short",
        "no target": "no target",
        "no data": "no data",
        "no residents": "no residents",
        "not applicable": "not applicable",
    },
    "zh": {
        "met": "达标",
        "short": "未达标",
        "no target": "无目标",
        "no data": "无数据",
        "no residents": "无居民",
        "not applicable": "不适用",
    },
}

#: OSM tag (key, value) -> category, for facility layers taken from OpenStreetMap.
OSM_TAG_CATEGORIES: dict[tuple[str, str], str] = {
    ("amenity", "clinic"): "health",
    ("amenity", "doctors"): "health",
    ("healthcare", "clinic"): "health",
    ("amenity", "kindergarten"): "kindergarten",
    ("amenity", "childcare"): "nursery",
    ("amenity", "school"): "primary_school",
    ("amenity", "community_centre"): "community_service",
    ("amenity", "social_facility"): "elderly_care",
    ("shop", "supermarket"): "supermarket",
    ("shop", "convenience"): "convenience",
    ("amenity", "marketplace"): "market",
    ("amenity", "arts_centre"): "culture",
    ("amenity", "library"): "culture",
    ("leisure", "fitness_station"): "sports",
    ("leisure", "sports_centre"): "sports",
    ("amenity", "police"): "police",
    ("amenity", "post_office"): "post",
    ("amenity", "pharmacy"): "pharmacy",
    ("shop", "laundry"): "laundry",
    ("shop", "dry_cleaning"): "laundry",
    ("shop", "hairdresser"): "hairdresser",
    ("shop", "beauty"): "hairdresser",
    ("craft", "shoemaker"): "repair",
    ("craft", "key_cutter"): "repair",
    ("shop", "repair"): "repair",
}


#: Words people use for a category (English, Chinese, OSM), for suggestions by meaning.
SYNONYMS: dict[str, str] = {
    "hospital": "health",
    "clinic": "health",
    "doctor": "health",
    "medical": "health",
    "卫生院": "health",
    "卫生室": "health",
    "卫生服务站": "health",
    "卫生服务中心": "health",
    "医院": "health",
    "诊所": "health",
    "school": "primary_school",
    "primary": "primary_school",
    "小学": "primary_school",
    "middle": "middle_school",
    "secondary": "middle_school",
    "初中": "middle_school",
    "中学": "middle_school",
    "幼儿园": "kindergarten",
    "preschool": "kindergarten",
    "daycare": "nursery",
    "childcare": "nursery",
    "托育": "nursery",
    "托儿所": "nursery",
    "elderly": "elderly_care",
    "nursing": "elderly_care",
    "养老": "elderly_care",
    "日间照料": "elderly_care",
    "党群服务": "community_service",
    "社区服务": "community_service",
    "综合服务": "community_service",
    "综合体": "community_complex",
    "supermarket": "supermarket",
    "超市": "supermarket",
    "便利店": "convenience",
    "shop": "convenience",
    "菜市场": "market",
    "农贸市场": "market",
    "market": "market",
    "文化": "culture",
    "library": "culture",
    "图书": "culture",
    "gym": "sports",
    "fitness": "sports",
    "健身": "sports",
    "体育": "sports",
    "police": "police",
    "警务": "police",
    "派出所": "police",
    "post": "post",
    "邮政": "post",
    "快递": "post",
    "药店": "pharmacy",
    "drugstore": "pharmacy",
    "法律": "legal_aid",
    "legal": "legal_aid",
    "早餐": "breakfast",
    "breakfast": "breakfast",
    "洗衣": "laundry",
    "洗染": "laundry",
    "laundry": "laundry",
    "理发": "hairdresser",
    "美发": "hairdresser",
    "hairdresser": "hairdresser",
    "barber": "hairdresser",
    "维修": "repair",
    "修鞋": "repair",
    "配钥匙": "repair",
    "repair": "repair",
}


def suggest_category(word: str) -> str:
    """The category a word most likely means: by meaning first, then by spelling.

    Examples
    --------
    >>> suggest_category("hospital"), suggest_category("村卫生室"), suggest_category("helth")
    ('health', 'health', 'health')
    >>> suggest_category("zoo")
    ''
    """
    import difflib

    text = word.strip().lower()
    if text in CATEGORIES:
        return text
    for key, category in SYNONYMS.items():
        if key in text:
            return category
    close = difflib.get_close_matches(text, list(CATEGORIES), n=1, cutoff=0.6)
    return close[0] if close else ""


def label(category: str, lang: str = "en") -> str:
    """Return the human label of a category.

    Parameters
    ----------
    category
        Category id, e.g. ``"health"``.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        The label, or the id itself when the category is unknown.

    Examples
    --------
    >>> label("primary_school", "zh")
    '小学'
    """
    zh, en = CATEGORIES.get(category, (category, category))
    return zh if lang == "zh" else en
