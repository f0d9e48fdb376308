"""What ecomap stores: restoration categories, canonical plot fields and their aliases.

Category codes are those of the county's annual report (``report_2023.csv``); Chinese
names are what maps and tables show by default, English ones come with ``lang="en"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = [
    "CATEGORIES",
    "KINDS",
    "RESTORATION",
    "PLOT_FIELDS",
    "Category",
    "category_label",
    "field_label",
    "get_category",
    "is_restoration",
    "kind_of",
    "label",
]


#: What a category counts as.  Only restoration work adds up into 修复面积 (totals,
#: choropleths, bars, 合计); inspection patches are violations found and counted in
#: patches, patrol areas tile the forest, compensation areas are owed elsewhere — each is
#: reported in rows of its own and never added to another kind.
KINDS: dict[str, tuple[str, str]] = {
    "restoration": ("生态修复", "Restoration work"),
    "inspection": ("森林督查问题图斑", "Forest-inspection patches"),
    "patrol": ("护林巡护区", "Patrol areas"),
    "compensation": ("森林植被恢复补偿", "Compensation areas"),
}


@dataclass(frozen=True)
class Category:
    """A category of plots mapped as polygons, and what it counts as (``kind``)."""

    code: str
    zh: str
    en: str
    color: str
    #: Unit the county reports it in: "mu", "km2", "patches" or "areas" (area is kept too).
    report_unit: str = "mu"
    #: One of :data:`KINDS`; only "restoration" is added into restoration totals.
    kind: str = "restoration"

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def is_restoration(self) -> bool:
        return self.kind == "restoration"


_CATEGORY_LIST = [
    Category("afforestation", "人工造林", "Afforestation", "#2e7d32"),
    Category("degraded_forest_restoration", "退化林修复", "Degraded-forest restoration", "#66bb6a"),
    Category("low_quality_forest_improvement", "低质低效林改造",
             "Low-quality forest improvement", "#9ccc65"),
    Category("ganjiang_source_restoration", "赣江源区生态综合治理",
             "Ganjiang-source restoration", "#26a69a"),
    Category("mine_remediation", "历史遗留废弃矿山生态修复", "Abandoned-mine remediation",
             "#8d6e63"),
    Category("soil_erosion_control", "小流域水土流失治理", "Soil-erosion control", "#ffb300",
             "km2"),
    Category("camellia_planting", "油茶新造", "Camellia planting", "#d81b60"),
    Category("understory_planting", "林下种植", "Understory planting", "#7e57c2"),
    Category("forest_inspection_patch", "森林督查问题图斑", "Forest-inspection patch", "#e53935",
             "patches", "inspection"),
    Category("forest_ranger", "生态护林员巡护区", "Forest-ranger patrol area", "#90a4ae",
             "areas", "patrol"),
]

#: Categories by code, in report order.
CATEGORIES: dict[str, Category] = {c.code: c for c in _CATEGORY_LIST}
#: Codes of the restoration categories, in report order: what 修复面积 adds up.
RESTORATION: tuple[str, ...] = tuple(c.code for c in _CATEGORY_LIST if c.is_restoration)
assert all(c.kind in KINDS for c in _CATEGORY_LIST)
_BY_NAME = {**{c.zh: c for c in _CATEGORY_LIST}, **{c.en.lower(): c for c in _CATEGORY_LIST}}


def get_category(value: str) -> Category:
    """The category named by a code, a Chinese name or an English name."""
    key = str(value).strip()
    cat = CATEGORIES.get(key) or _BY_NAME.get(key) or _BY_NAME.get(key.lower())
    if cat is None:
        choices = ", ".join(f"{c.code} ({c.zh})" for c in _CATEGORY_LIST)
        raise InputError(tr("未知类别 {value!r}; 可选: {choices}",
                            "unknown category {value!r}; use one of: {choices}",
                            value=value, choices=choices))
    return cat


def kind_of(code: str) -> str:
    """What a category code counts as (:data:`KINDS`); the store holds known codes only."""
    cat = CATEGORIES.get(code)
    return cat.kind if cat else "restoration"


def is_restoration(code: str) -> bool:
    """True when a category code adds up into restoration totals (修复面积)."""
    return kind_of(code) == "restoration"


def category_label(code: str, lang: str = "zh") -> str:
    """Display name of a category code (the code itself when unknown)."""
    cat = CATEGORIES.get(code)
    return cat.name(lang) if cat else code


# Canonical plot attributes and the names they arrive under in 小班 tables.
# Order matters: it is the order of columns in the store and in popups.
PLOT_FIELDS: dict[str, dict] = {
    "plot_id": {"zh": "小班号", "en": "Plot ID", "type": "str",
                "aliases": ["小班号", "小班编号", "图斑号", "图斑编号", "编号", "xbh", "plot_no", "id"]},
    "township_reported": {"zh": "乡镇", "en": "Township (reported)", "type": "str",
                          "aliases": ["乡镇", "乡镇名称", "乡(镇)", "xiang", "township"]},
    "village": {"zh": "村", "en": "Village", "type": "str",
                "aliases": ["村", "村名", "行政村", "cun", "village"]},
    "method": {"zh": "造林方式/作业类型", "en": "Method", "type": "str",
               "aliases": ["造林方式", "作业类型", "造林方式/作业类型", "治理措施", "method"]},
    "species": {"zh": "树种", "en": "Species", "type": "str",
                "aliases": ["树种", "主要树种", "造林树种", "species"]},
    "area_mu_reported": {"zh": "面积_亩", "en": "Reported area (mu)", "type": "float",
                         "aliases": ["面积_亩", "面积(亩)", "面积", "小班面积", "area_mu"]},
    "year": {"zh": "年度", "en": "Year", "type": "int",
             "aliases": ["年度", "年份", "实施年度", "year"]},
    "implementer": {"zh": "实施单位", "en": "Implementer", "type": "str",
                    "aliases": ["实施单位", "施工单位", "建设单位", "implementer"]},
    "status": {"zh": "状态", "en": "Status", "type": "str",
               "aliases": ["整改状态", "状态", "完成情况", "status"]},
}

# Labels of computed columns and table headers.
_LABELS = {
    "township": ("乡镇", "Township"),
    "category": ("类别", "Category"),
    "category_code": ("类别代码", "Category code"),
    "year": ("年度", "Year"),
    "count": ("小班数", "Plots"),
    "area_mu": ("面积(亩)", "Area (mu)"),
    "area_ha": ("面积(公顷)", "Area (ha)"),
    "area_km2": ("面积(平方公里)", "Area (km²)"),
    "total": ("合计", "Total"),
    "restoration_mu": ("修复面积(亩)", "Restoration area (mu)"),
    "patches": ("问题图斑(个)", "Inspection patches"),
    "patch_mu": ("问题图斑面积(亩)", "Inspection-patch area (mu)"),
    "patrol_areas": ("巡护区(片)", "Patrol areas"),
    "compensation_mu": ("补偿面积(亩)", "Compensation area (mu)"),
    "target": ("任务量", "Target"),
    "done": ("完成量", "Done"),
    "rate": ("完成率(%)", "Completion (%)"),
    "remaining": ("剩余任务", "Remaining"),
    "met": ("是否完成", "Met"),
    "unit": ("单位", "Unit"),
    "change": ("比上年增减", "Change from previous year"),
    "change_pct": ("增减(%)", "Change (%)"),
    "county": ("全县", "County"),
    "sites": ("监测点数", "Sites"),
    "compliant": ("达标点数", "Compliant sites"),
    "compliance_pct": ("达标率(%)", "Compliance (%)"),
    "water_class": ("水质类别", "Water class"),
    "target_class": ("水质目标", "Target class"),
    "site_type": ("点位类型", "Site type"),
    "site_name": ("点位名称", "Site"),
    "river": ("河流", "River"),
    "batch_id": ("批次", "Batch"),
    "plot_area_mu": ("计算面积(亩)", "Computed area (mu)"),
    "illustrative": ("乡镇界为示意，非正式行政区划", "Township boundaries are illustrative, not official"),
}


def label(key: str, lang: str = "zh") -> str:
    """Display label of a column or UI text."""
    if key in _LABELS:
        zh, en = _LABELS[key]
        return zh if lang == "zh" else en
    return field_label(key, lang)


def field_label(field: str, lang: str = "zh") -> str:
    """Display label of a canonical plot field (the field name itself when unknown)."""
    spec = PLOT_FIELDS.get(field)
    if spec is None:
        return field
    return spec["zh"] if lang == "zh" else spec["en"]


def canonical_field(name: str) -> str | None:
    """The canonical plot field a column name stands for, or None."""
    key = str(name).strip().lower()
    for field, spec in PLOT_FIELDS.items():
        if key == field or key in (a.lower() for a in spec["aliases"]):
            return field
    return None
