"""Surface-water quality by GB 3838-2002: read monitoring tables, check uploads,
classify samples and sites, assess targets, and tabulate the results.

Rules (the functions of :mod:`ecomap.water.classify` and :mod:`ecomap.water.columns`
apply them and refer back here):

1. **Single-factor method.**  A parameter's class is the best class (I…V) whose limit it
   meets — a ceiling for most parameters, a floor for dissolved oxygen, 6–9 for pH in
   every class; failing class V gives "劣V".  Where classes share a limit (COD and BOD5
   for I and II) a value meeting it gets the better class.  A sample's or site's class
   is its worst parameter class.  Values within 1e-9 (relative) of a limit meet it, so
   floating-point noise in means never changes a class.
2. **What counts.**  Total phosphorus uses the river limits for rivers and the lake and
   reservoir limits (``TP_lake``) for lakes; total nitrogen counts for lakes only;
   water temperature and fecal coliforms never count (fecal coliforms get a class of
   their own, ``class_fecal_coliform``, for reference — the Ministry's practice).
3. **River or lake** (``waterbody``): an explicit 水体类型 column wins; else 河流 →
   river, 湖库/湖泊/水库 → lake; a drinking-water source (饮用水源) is a lake when its
   type says so (``饮用水源(湖库)``) or its name ends in 水库 or 湖 (optionally followed by
   坝前/库心/库区/取水口), otherwise a river.  Without a site type the same name rule
   applies, and a 河流 value or a name containing 河/江/溪 means river; else unknown.
4. **Below detection** (``<0.01``, ``0.01L``, ``ND``, ``未检出``): the value column holds
   the detection limit (DL) and ``<code>_below_dl`` is True.  Such a value meets every
   ceiling >= DL; a ceiling below the DL is not shown to be met (the value counts as
   the DL, so ``0.02L`` mercury is 劣V).  ``ND`` without a DL meets every ceiling (the
   standard's methods detect below the class I limits).  A below-detection DO meets
   no floor.
5. **Annual means** count below-detection values at half the DL (Ministry of Ecology
   and Environment practice; ``ND`` without a DL as 0).  A parameter below detection in
   every sample of the year is classified by rule 4 on its largest DL, so half a DL
   never proves a limit the laboratory could not see.
6. **Targets.**  A site or sample meets its target (水质目标) when its class is at least
   as good.  超标倍数 of a parameter worse than the target = (value − target-class
   limit) / limit; none for DO and pH.

Modules, one concern each:

* :mod:`~ecomap.water.gb3838` — GB 3838-2002 Table 1: classes, parameters, limits;
* :mod:`~ecomap.water.columns` — headers and units of monitoring tables, cells parsed
  (rules 3 and 4);
* :mod:`~ecomap.water.classify` — classes of samples and sites, targets, compliance;
* :mod:`~ecomap.water.checks` — uploads checked against the store, in its shapes;
* :mod:`~ecomap.water.tables` — tables for people, JSON records, headline figures;
* :mod:`~ecomap.water.rules` — the rules both store backends apply when storing;
* :mod:`~ecomap.water.ingest` — a monitoring file checked and stored as one batch.

The public names below are loaded on first use, so ``import ecomap.water`` costs
nothing until one is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecomap._lazy import lazy_exports

if TYPE_CHECKING:
    from ecomap.water.checks import (
        WaterUpload,
        samples_long,
        samples_wide,
        sites_from_table,
        upload_from_tables,
    )
    from ecomap.water.classify import annual_site_classes, classify_samples, compliance
    from ecomap.water.columns import COLUMN_ALIASES, normalize_samples
    from ecomap.water.gb3838 import CLASSES, PARAMETERS, Parameter
    from ecomap.water.ingest import ingest_water
    from ecomap.water.tables import (
        classified_records,
        compliance_table,
        headline_figures,
        headline_text,
        sample_table,
        site_table,
    )

_WHERE = {
    "CLASSES": "gb3838", "PARAMETERS": "gb3838", "Parameter": "gb3838",
    "COLUMN_ALIASES": "columns", "normalize_samples": "columns",
    "annual_site_classes": "classify", "classify_samples": "classify",
    "compliance": "classify",
    "WaterUpload": "checks", "samples_long": "checks", "samples_wide": "checks",
    "sites_from_table": "checks", "upload_from_tables": "checks",
    "classified_records": "tables", "compliance_table": "tables",
    "headline_figures": "tables", "headline_text": "tables", "sample_table": "tables",
    "site_table": "tables",
    "ingest_water": "ingest",
}

__all__ = [
    "CLASSES",
    "COLUMN_ALIASES",
    "PARAMETERS",
    "Parameter",
    "WaterUpload",
    "annual_site_classes",
    "classified_records",
    "classify_samples",
    "compliance",
    "compliance_table",
    "headline_figures",
    "headline_text",
    "ingest_water",
    "normalize_samples",
    "sample_table",
    "samples_long",
    "samples_wide",
    "site_table",
    "sites_from_table",
    "upload_from_tables",
]


__getattr__, __dir__ = lazy_exports(__name__, {n: f".{m}" for n, m in _WHERE.items()},
                                   __all__)
