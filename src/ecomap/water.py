"""Surface-water quality by GB 3838-2002: parse monitoring tables, classify samples and sites.

Rules (the functions below apply them and refer back here):

1. **Single-factor method.**  A parameter's class is the best class (I…V) whose limit it
   meets — a ceiling for most parameters, a floor for dissolved oxygen, 6–9 for pH in
   every class; failing class V gives "劣V".  Where classes share a limit (COD and BOD5
   for I and II) a value meeting it gets the better class.  A sample's or site's class
   is its worst parameter class.  Values within 1e-9 (relative) of a limit meet it, so
   floating-point noise in means never changes a class.
2. **What counts.**  Total phosphorus uses the river limits for rivers and the lake and
   reservoir limits (``TP_lake``) for lakes; total nitrogen counts for lakes only;
   water temperature and fecal coliforms never count.
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
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ecomap.errors import InputError, ValidationError
from ecomap.io.tables import cell_text, parse_coordinate, parse_date, parse_number

__all__ = [
    "CLASSES",
    "COLUMN_ALIASES",
    "PARAMETERS",
    "Parameter",
    "annual_site_classes",
    "classify_samples",
    "compliance",
    "normalize_samples",
    "samples_long",
    "samples_wide",
    "site_table",
    "sites_from_table",
]

log = logging.getLogger(__name__)

#: Water classes from best to worst; ``class_rank`` is the 1-based position.
CLASSES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "劣V")
_TOL = 1e-9


@dataclass(frozen=True)
class Parameter:
    """One row of GB 3838-2002 Table 1 (basic items)."""

    code: str
    name_zh: str
    unit: str
    #: "max" (limit is a ceiling), "min" (a floor: DO) or "range" (pH).
    direction: str
    #: Limits of classes I–V; ``(low, high)`` pairs when direction is "range".
    limits: tuple
    note: str = ""

    @property
    def label(self) -> str:
        """Chinese name as reports write it, without the (河流)/(湖、库) qualifier."""
        return re.sub(r"\((河流|湖、库)\)$", "", self.name_zh)


def _load_parameters() -> dict[str, Parameter]:
    text = resources.files("ecomap").joinpath("data/gb3838_2002_table1.csv").read_text("utf-8")
    params = {}
    for row in csv.DictReader(io.StringIO(text)):
        cells = [row[c] for c in CLASSES[:5]]
        limits = tuple(tuple(float(x) for x in c.split("-")) if row["direction"] == "range"
                       else float(c) for c in cells)
        params[row["param"]] = Parameter(row["param"], row["name_zh"], row["unit"],
                                         row["direction"], limits, row["note"])
    return params


#: GB 3838-2002 Table 1 by code (``TP`` for rivers, ``TP_lake`` for lakes and reservoirs).
PARAMETERS: dict[str, Parameter] = _load_parameters()
_MEASURES = ("temp", *(c for c in PARAMETERS if c != "TP_lake"))
_UNCOUNTED = {"temp", "fecal_coliform"}

#: Canonical column → headers it arrives under, matched ignoring case, spaces, full-width
#: forms and a trailing unit such as ``(mg/L)``; a ``μg/L`` unit is converted to mg/L.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "site_name": ("断面名称", "点位名称", "断面", "点位", "监测断面", "监测点位", "站点名称",
                  "site", "station"),
    "site_type": ("点位类型", "断面类型", "type"),
    "waterbody": ("水体类型", "水体"),
    "river": ("河流", "河流名称", "所在河流"),
    "township": ("乡镇", "乡镇名称", "所在乡镇"),
    "target_class": ("水质目标", "目标水质", "水质目标类别", "target"),
    "lon": ("经度", "lng", "longitude"),
    "lat": ("纬度", "latitude"),
    "date": ("采样日期", "监测日期", "日期", "采样时间", "sampling_date"),
    "temp": ("水温", "temperature", "water_temp"),
    "pH": ("ph值",), "DO": ("溶解氧",), "CODMn": ("高锰酸盐指数", "cod_mn"),
    "COD": ("化学需氧量", "codcr", "cod_cr"), "BOD5": ("五日生化需氧量", "bod"),
    "NH3N": ("氨氮", "nh3-n", "nh3_n"), "TP": ("总磷", "总磷(以p计)"), "TN": ("总氮",),
    "Cu": ("铜",), "Zn": ("锌",), "F": ("氟化物", "fluoride"), "Se": ("硒",), "As": ("砷",),
    "Hg": ("汞",), "Cd": ("镉",), "Cr6": ("六价铬", "铬(六价)", "cr6+", "cr(vi)", "crvi"),
    "Pb": ("铅",), "CN": ("氰化物", "cyanide"), "phenol": ("挥发酚", "volatile_phenol"),
    "oil": ("石油类", "petroleum"), "LAS": ("阴离子表面活性剂",),
    "S2": ("硫化物", "s2-", "sulfide"), "fecal_coliform": ("粪大肠菌群", "fc"),
}


def _key(text: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


_ALIAS_INDEX = {_key(a): code for code, names in COLUMN_ALIASES.items() for a in (code, *names)}
_UNIT_TAIL = re.compile(r"^(.+?)(?:\(([^()]*)\)|\[([^\[\]]*)\]|(mg/l|μg/l|ug/l|个/l|℃|°c))$")


def _match_column(name: Any) -> tuple[str | None, float]:
    """Canonical code of a header and the factor converting its unit to mg/L."""
    key, scale = _key(name), 1.0
    for _ in range(3):
        if key in _ALIAS_INDEX:
            return _ALIAS_INDEX[key], scale
        m = _UNIT_TAIL.match(key)
        if not m:
            break
        unit = next(g for g in m.groups()[1:] if g is not None)
        scale *= 0.001 if unit in ("μg/l", "ug/l") else 1.0
        key = m.group(1)
    return None, 1.0


# ---------------------------------------------------------------- cells
def _measurement(text: str, code: str, scale: float, dl: float | None) -> tuple[float, bool]:
    """(value, below_dl); below detection the value is the DL (NaN when unknown)."""
    t = text.replace(" ", "")
    nd = re.fullmatch(r"(?:nd|n\.d\.|未检出)\(?<?([^()]*)\)?", t, flags=re.I)
    if nd or t.startswith("<") or re.fullmatch(r"[\d.]+l", t, flags=re.I):
        num = nd.group(1) if nd else t.strip("<lL")
        if code in ("pH", "temp") or not (num or nd):
            raise ValueError(f'"{text}" 不是有效的检出限写法；请写成 "<0.01" 或 "0.01L"')
        limit = parse_number(num) * scale if num else dl
        return (math.nan if limit is None else limit), True
    if t.startswith(">") and code == "fecal_coliform":  # above the MPN table: its top
        t = t[1:]
    elif t.startswith(">"):
        raise ValueError(f'"{text}" 超出测定上限；请填写稀释后的实测值')
    value = parse_number(t, thousands=code == "fecal_coliform") * scale
    if value < 0 and code != "temp":
        raise ValueError(f'"{text}" 为负值；浓度不能小于 0，请核对')
    return value, False


def _site_type(text: str, *, column: str = "site_type") -> tuple[str, str | None]:
    """(site_type, waterbody or None) from a 点位类型 or 水体类型 cell."""
    t = text.lower()
    lake = any(s in t for s in ("湖", "库", "lake", "reservoir"))
    river = any(s in t for s in ("河", "江", "溪", "river", "stream"))
    body = "lake" if lake else "river" if river else None
    if column == "site_type" and any(s in t for s in ("饮用", "水源", "drinking")):
        return "drinking", body
    if body is None:
        raise ValueError(f'"{text}" 不是点位类型；请填 河流、湖库 或 饮用水源（可注明 湖库/河流）'
                         if column == "site_type" else f'"{text}" 不是水体类型；请填 河流 或 湖库')
    return body, body


def _target(text: str) -> str:
    t = text.upper().removesuffix("类").removesuffix("水").strip()
    t = dict(zip("12345一二三四五", CLASSES[:5] * 2, strict=True)).get(t, t)
    if t not in CLASSES[:5]:
        raise ValueError(f'"{text}" 不是水质目标类别；请填 I、II、III、IV 或 V（如 Ⅲ类）')
    return t


def _waterbody_of(name: Any, site_type: Any, hint: str | None, river: Any) -> str | None:
    """Rule 3 of the module docstring."""
    if hint is not None:
        return hint
    if isinstance(name, str) and re.search(r"(水库|湖)(坝前|库心|库区|取水口)?$", name):
        return "lake"
    if site_type == "drinking" or isinstance(river, str) or (
            isinstance(name, str) and re.search("[河江溪]", name)):
        return "river"
    return None


def _problem(row: int | None, field: str | None, code: str, message: str) -> dict:
    return {"severity": "error", "code": code, "feature": row, "field": field,
            "message": message}


def _parse_cell(code: str, text: str, scale: float, dl: float | None) -> tuple[Any, Any]:
    """(value, extra): extra is the below-DL flag for measures, the waterbody for types."""
    if code in _MEASURES:
        return _measurement(text, code, scale, dl)
    if code in ("site_type", "waterbody"):
        return _site_type(text, column=code)
    if code in ("lon", "lat"):
        return parse_coordinate(text, axis=code), None
    if code == "date":
        return parse_date(text), None
    return (_target(text) if code == "target_class" else text), None


# ---------------------------------------------------------------- normalise
def normalize_samples(
    df: pd.DataFrame, *, detection_limits: dict[str, float] | None = None
) -> tuple[pd.DataFrame, list[dict]]:
    """Canonical columns and parsed values from a monitoring (or site) table.

    Parameters
    ----------
    df
        Table as read by :func:`ecomap.io.tables.read_table` (cells as text, header on
        the first row), with Chinese or English headers (:data:`COLUMN_ALIASES`).
    detection_limits
        DL in mg/L by parameter code, for ``ND``/``未检出`` cells that give none.

    Returns
    -------
    samples
        ``source_row`` (the spreadsheet row: data row + header), the canonical columns
        found — names as text, ``site_type`` river/lake/drinking, ``waterbody``
        river/lake (module rule 3), ``target_class`` I–V, ``lon``/``lat`` in decimal
        degrees, ``date`` as datetime, measures as floats in mg/L each followed by
        ``<code>_below_dl`` (rule 4) — then unrecognised columns unchanged.
    problems
        One dict (``severity``, ``code``, ``feature`` = spreadsheet row, ``field`` =
        original header, ``message`` with the value and the fix) per unreadable cell
        ("bad_value", left missing in ``samples``) and per duplicated column or table
        without any known header.  Blank cells (also ``-``, ``—``, ``/``) are missing and
        not problems.

    Notes
    -----
    Values may be written ``<0.01``, ``0.01L``, ``ND``, ``未检出``, ``ND(0.01)``, with a
    decimal comma (``0,12``; ``1,234`` is refused as ambiguous except for fecal
    coliforms, where commas group thousands and ``>24000`` reads as 24000).  Dates and
    coordinates: see :func:`ecomap.io.tables.parse_date` and ``parse_coordinate``.
    """
    dls = detection_limits or {}
    problems: list[dict] = []
    found: dict[str, tuple[Any, float]] = {}
    extra = []
    for col in df.columns:
        code, scale = _match_column(col)
        if code in found:
            problems.append(_problem(None, str(col), "duplicate_column",
                                     f"列「{col}」与「{found[code][0]}」表示同一项（{code}）；"
                                     "请删除或改名其中一列（此列原样保留，未使用）"))
        if code is None or code in found:
            extra.append(col)
        else:
            found[code] = (col, scale)
    if not found:
        problems.append(_problem(None, None, "missing_column", "没有识别出任何列；表头须在第一行，"
                                 "如 断面名称、采样日期、溶解氧、氨氮、总磷"))
    rows = list(range(2, len(df) + 2))
    out: dict[str, Any] = {"source_row": rows}
    hints: list[str | None] = [None] * len(df)
    for code in (c for c in COLUMN_ALIASES if c in found):
        col, scale = found[code]
        values, extras = [None] * len(df), [False] * len(df)
        for i, cell in enumerate(df[col].tolist()):
            text = cell_text(cell)
            if text is None:
                continue
            try:
                values[i], extras[i] = _parse_cell(code, text, scale, dls.get(code))
            except ValueError as exc:
                problems.append(_problem(rows[i], str(col), "bad_value",
                                         f"第{rows[i]}行「{col}」：{exc}"))
        if code in ("site_type", "waterbody"):
            hints = [e if e else h for e, h in zip(extras, hints, strict=True)]
        if code in _MEASURES or code in ("lon", "lat"):
            out[code] = np.array([np.nan if v is None else v for v in values], dtype=float)
            if code in _MEASURES and code != "temp":
                out[f"{code}_below_dl"] = np.array(extras, dtype=bool)
        elif code == "date":
            out[code] = pd.to_datetime(pd.Series([pd.NaT if v is None else v for v in values]))
        else:
            out[code] = pd.Series(values, dtype=object)
    if found.keys() & {"site_type", "waterbody", "site_name", "river"}:
        cols = [out.get(c, [None] * len(df)) for c in ("site_name", "site_type")]
        out["waterbody"] = pd.Series([_waterbody_of(n, t, h, r) for n, t, h, r in zip(
            *cols, hints, out.get("river", [None] * len(df)), strict=True)], dtype=object)
    frame = pd.DataFrame(out)
    order = ["source_row", *(c for c in COLUMN_ALIASES if c in frame)]
    frame = frame[[c for code in order for c in (code, f"{code}_below_dl") if c in frame]]
    for col in extra:
        frame[col if col not in frame else f"{col} (原列)"] = df[col].to_numpy()
    return frame, problems


# ---------------------------------------------------------------- classify
def _ranks(v: np.ndarray, below: np.ndarray, p: Parameter) -> np.ndarray:
    if p.direction == "range":
        lo, hi = p.limits[0]
        rank = np.where((v >= lo * (1 - _TOL)) & (v <= hi * (1 + _TOL)), 1.0, 6.0)
    else:
        rank = np.full(v.shape, 6.0)
        for k in range(4, -1, -1):
            lim = p.limits[k]
            rank[v <= lim * (1 + _TOL) if p.direction == "max" else v >= lim * (1 - _TOL)] = k + 1
        if p.direction == "max":
            rank[below & np.isnan(v)] = 1.0
        else:
            rank[below] = 6.0
    rank[np.isnan(v) & ~below] = np.nan
    return rank


def _param_for(code: str, lake: bool) -> Parameter:
    return PARAMETERS["TP_lake" if code == "TP" and lake else code]


def _ratio(p: Parameter, v: float, k: int) -> float:
    """How far ``v`` lies beyond the limit of class index ``k`` (1.0 = at the limit)."""
    if p.direction == "range":
        lo, hi = p.limits[k]
        return max(v / hi, lo / v) if v > 0 else math.inf
    return v / p.limits[k] if p.direction == "max" else p.limits[k] / v if v > 0 else math.inf


def _classify(values: pd.DataFrame, below: pd.DataFrame, waterbody: pd.Series,
              where: pd.Series) -> pd.DataFrame:
    """Class columns for rows of values (the DL where ``below``); rules 1, 2 and 4."""
    codes = [c for c in PARAMETERS if c in values and c not in _UNCOUNTED]
    lake = waterbody.eq("lake").to_numpy(dtype=bool)
    need = values[[c for c in ("TP", "TN") if c in codes]].notna().any(axis=1).to_numpy()
    if (bad := need & waterbody.isna().to_numpy()).any():
        raise InputError(f"TP/TN limits differ for rivers and lakes but {', '.join(where[bad])} "
                         "have no site type; fill 点位类型 (河流/湖库/饮用水源) or pass "
                         "waterbody='river' or 'lake'")
    ranks = pd.DataFrame(index=values.index, dtype=float)
    for code in codes:
        v = values[code].to_numpy(dtype=float)
        b = below[code].to_numpy(dtype=bool) if code in below else np.zeros(len(v), bool)
        r = _ranks(v, b, PARAMETERS[code])
        if code == "TP":
            r = np.where(lake, _ranks(v, b, PARAMETERS["TP_lake"]), r)
        ranks[code] = np.where(lake, r, np.nan) if code == "TN" else r
    worst = ranks.max(axis=1).to_numpy() if codes else np.full(len(values), np.nan)
    deciding = []
    for i, idx in enumerate(values.index):
        hits = [c for c in codes if worst[i] > 1 and ranks.at[idx, c] == worst[i]]
        deciding.append(sorted(hits, key=lambda c, i=i, idx=idx: -_ratio(
            _param_for(c, lake[i]), values.at[idx, c], int(worst[i]) - 2)))

    def names(r: np.ndarray) -> list:
        return [None if np.isnan(x) else CLASSES[int(x) - 1] for x in r]

    out = pd.DataFrame({f"class_{c}": names(ranks[c].to_numpy()) for c in codes},
                       index=values.index, dtype=object)
    out["class"] = names(worst)
    out["class_rank"] = pd.array([None if np.isnan(x) else int(x) for x in worst], dtype="Int64")
    out["deciding"] = ["、".join(_param_for(c, lk).label for c in d)
                       for d, lk in zip(deciding, lake, strict=True)]
    out["deciding_codes"] = [",".join(d) for d in deciding]
    return out


def classify_samples(samples: pd.DataFrame, *, waterbody: str | None = None) -> pd.DataFrame:
    """GB 3838-2002 class of each sample by the single-factor method (module rules 1, 2, 4).

    Parameters
    ----------
    samples
        Output of :func:`normalize_samples`.
    waterbody
        "river" or "lake" for every row; by default each row's ``waterbody`` column
        (rule 3).  Rows with TP or TN but no known waterbody raise InputError.

    Returns
    -------
    pandas.DataFrame
        ``samples`` plus ``class_<code>`` per counted parameter present (I…劣V; missing
        when not measured; ``class_TN`` only for lakes), ``class``, ``class_rank``
        (1…6), ``deciding`` — the Chinese names of the parameters at the sample's class,
        joined by "、", the one furthest beyond the next better class's limit first;
        empty for class I — and ``deciding_codes`` (the same codes, comma-joined).
    """
    if waterbody not in (None, "river", "lake"):
        raise InputError(f"waterbody={waterbody!r}; use 'river' or 'lake'")
    below = samples[[c for c in samples if c.endswith("_below_dl")]]
    below = below.rename(columns=lambda c: c.removesuffix("_below_dl"))
    bodies = pd.Series(waterbody, index=samples.index, dtype=object)
    if waterbody is None and "waterbody" in samples:
        bodies = samples["waterbody"].astype(object)
    rows = samples["source_row"] if "source_row" in samples else samples.index.to_series()
    classes = _classify(samples, below, bodies, "row " + rows.astype(str))
    return pd.concat([samples.drop(columns=classes.columns, errors="ignore"), classes], axis=1)


# ---------------------------------------------------------------- annual
_SITE_COLUMNS = ["site_type", "waterbody", "river", "township", "target_class", "lon", "lat"]


def annual_site_classes(samples: pd.DataFrame, sites: pd.DataFrame | None = None, *,
                        year: int | None = None) -> pd.DataFrame:
    """Annual class of each site from the mean of its samples, and whether it meets its target.

    Parameters
    ----------
    samples
        Output of :func:`normalize_samples` with ``site_name`` (and ``date`` to tell
        years apart).
    sites
        Site table (raw headers or normalised) whose type, waterbody, river, township,
        target and coordinates override those in ``samples``; its sites without samples
        are listed with ``n_samples`` 0 and no class.
    year
        Keep this year's samples only; by default one row per site and year.

    Returns
    -------
    pandas.DataFrame
        ``site_name``, ``year``, the site columns, ``n_samples``, each measure's annual
        mean (rule 5) with ``<code>_below_dl`` (True when no sample was above detection),
        the columns of :func:`classify_samples`, ``meets_target`` (class rank <= target
        rank; missing without a target or data), ``exceedances`` ({code: 超标倍数} for
        the parameters worse than the target, largest first) and ``exceedance_text``
        (e.g. "总磷(0.25)、溶解氧").  超标倍数 = (value − target-class limit) / limit; for
        DO and pH it does not apply and is None.
    """
    if "site_name" not in samples:
        raise InputError("samples have no site column; add 断面名称/点位名称 to the table")
    if (nameless := samples["site_name"].isna()).any():
        rows = samples.get("source_row", samples.index.to_series())[nameless]
        raise ValidationError(f"{nameless.sum()} sample(s) have no site name", [_problem(
            int(r), "site_name", "missing_value", f"第{r}行没有断面名称；请填写") for r in rows])
    if "date" not in samples and year is not None:
        raise InputError(f"year={year} needs a 采样日期 (date) column in the samples")
    years = samples["date"].dt.year if "date" in samples else pd.Series(np.nan, samples.index)
    data = samples.assign(year=years.astype("Int64"))
    if year is not None:
        if undated := int(data["year"].isna().sum()):
            log.warning("%d sample(s) without a 采样日期 left out of year %s", undated, year)
        data = data[data["year"].eq(year).fillna(False).astype(bool)]
    parts = {}
    for code in (c for c in _MEASURES if c in data):
        v = data[code].to_numpy(dtype=float)
        b = data.get(f"{code}_below_dl", pd.Series(False, data.index)).to_numpy(dtype=bool)
        parts.update({f"{code}|mean": np.where(b, np.nan_to_num(v) / 2, v),
                      f"{code}|n": ~np.isnan(v) | b, f"{code}|b": b,
                      f"{code}|dl": np.where(b, v, np.nan)})
    how = {c: {"mean": "mean", "dl": "max"}.get(c.split("|")[1], "sum") for c in parts}
    grouped = pd.DataFrame(parts, index=data.index).groupby(
        [data["site_name"], data["year"]], dropna=False, sort=True)
    agg = grouped.agg(how) if parts else pd.DataFrame(index=grouped.size().index)
    annual = grouped.size().rename("n_samples").to_frame()
    for code in (c.split("|")[0] for c in parts if c.endswith("|n")):
        all_below = agg[f"{code}|b"].eq(agg[f"{code}|n"]) & agg[f"{code}|n"].gt(0)
        annual[code], annual[f"{code}_below_dl"] = agg[f"{code}|mean"], all_below
        annual[f"{code}|value"] = agg[f"{code}|mean"].where(~all_below, agg[f"{code}|dl"])
    meta = data.groupby("site_name")[[c for c in _SITE_COLUMNS if c in data]].first()
    if sites is not None:
        if "site_name" not in sites:
            sites, problems = normalize_samples(sites)
            if problems:
                raise ValidationError(f"site table has {len(problems)} problem(s)", problems)
        if len(dup := sites["site_name"][sites["site_name"].duplicated()]):
            raise ValidationError("site table lists a site twice", [_problem(
                None, "site_name", "duplicate_site", f"断面「{s}」在点位表中出现多次；请合并为一行")
                for s in dup.unique()])
        own = sites.dropna(subset=["site_name"]).set_index("site_name")
        meta = own[[c for c in _SITE_COLUMNS if c in own]].combine_first(meta)
    annual = annual.reset_index().merge(meta.reset_index(), on="site_name",
                                        how="left" if sites is None else "outer")
    annual["n_samples"] = annual["n_samples"].fillna(0).astype(int)
    known = data["year"].dropna().unique()  # sites without samples: the year reported on
    if year is not None or len(known) == 1:
        annual.loc[annual["n_samples"].eq(0), "year"] = year if year is not None else known[0]
    flags = [c for c in annual if c.endswith("_below_dl")]
    annual[flags] = annual[flags].eq(True)
    hidden = [c for c in annual if c.endswith("|value")]
    values = annual[hidden].rename(columns=lambda c: c.split("|")[0])
    below = annual[flags].rename(columns=lambda c: c.removesuffix("_below_dl"))
    annual = annual.drop(columns=hidden)
    first = ["site_name", "year", *(c for c in _SITE_COLUMNS if c in annual)]
    annual = annual[first + [c for c in annual if c not in first]]
    bodies = annual["waterbody"] if "waterbody" in annual else pd.Series(None, annual.index)
    out = pd.concat([annual, _classify(values, below, bodies.astype(object),
                                       "site " + annual["site_name"].astype(str))], axis=1)
    target = out.get("target_class", pd.Series(None, out.index, dtype=object))
    target_rank = [CLASSES.index(t) + 1 if t in CLASSES else None for t in target]
    out["meets_target"] = pd.array([None if r is None or pd.isna(c) else bool(c <= r)
                                    for c, r in zip(out["class_rank"], target_rank, strict=True)],
                                   dtype="boolean")
    out["exceedances"] = [_exceedances(values.loc[i], out.loc[i], r)
                          for i, r in zip(out.index, target_rank, strict=True)]
    out["exceedance_text"] = ["、".join(PARAMETERS[c].label + ("" if m is None else f"({m:.2f})")
                                       for c, m in e.items()) for e in out["exceedances"]]
    return out


def _exceedances(values: pd.Series, row: pd.Series, target: int | None) -> dict:
    """超标倍数 of the parameters worse than the target class, largest first (None last)."""
    found: dict[str, float | None] = {}
    for code in values.index if target is not None else ():
        cls = row.get(f"class_{code}")
        if isinstance(cls, str) and CLASSES.index(cls) + 1 > target:
            p = _param_for(code, row.get("waterbody") == "lake")
            found[code] = _ratio(p, values[code], target - 1) - 1 if p.direction == "max" else None
    return dict(sorted(found.items(), key=lambda kv: (kv[1] is None, -(kv[1] or 0))))


# ---------------------------------------------------------------- compliance
def compliance(site_classes: pd.DataFrame, *, by: str | None = "township") -> pd.DataFrame:
    """Share of sites meeting their water-quality target, per group and for the county.

    Parameters
    ----------
    site_classes
        Output of :func:`annual_site_classes`.
    by
        Column to group by (``township`` by default, or e.g. ``river``); None for the
        county only.

    Returns
    -------
    pandas.DataFrame
        ``scope`` ("surface" for river and lake sections, "drinking" for drinking-water
        sources, always counted apart), ``year`` when present, the ``by`` column (or
        ``area``): each group, sites without a value as "(未填写)", then "全县" —
        ``sites`` (assessed: class and target known), ``compliant``, ``not_assessed``
        and ``compliance_pct`` (0.1 precision; missing when no site was assessed).
    """
    if "meets_target" not in site_classes:
        raise InputError("no meets_target column; pass the result of annual_site_classes()")
    if by is not None and by not in site_classes:
        raise InputError(f"no {by!r} column to group by; add 乡镇 to the site table, join "
                         "townships by location first, or use by=None for the county only")
    meets = site_classes["meets_target"].astype("boolean")
    stype = site_classes.get("site_type", pd.Series(None, site_classes.index, dtype=object))
    d = pd.DataFrame({
        "scope": np.where(stype.eq("drinking"), "drinking", "surface"),
        "group": site_classes[by].astype(object).where(site_classes[by].notna(), "(未填写)")
        if by else "全县",
        "sites": meets.notna().to_numpy(), "compliant": meets.fillna(False).to_numpy(dtype=bool),
        "not_assessed": meets.isna().to_numpy()}, index=site_classes.index)
    keys = ["scope", "group"]
    if "year" in site_classes:
        d["year"], keys = site_classes["year"], ["scope", "year", "group"]
    out = pd.concat([p.groupby(keys, dropna=False)[["sites", "compliant", "not_assessed"]]
                     .sum().reset_index() for p in ([d] if by else []) + [d.assign(group="全县")]])
    out = out.assign(_d=out["scope"].eq("drinking"), _c=out["group"].eq("全县")).sort_values(
        ["_d", *keys[1:-1], "_c", "group"], kind="stable").drop(columns=["_d", "_c"])
    pct = (100 * out["compliant"] / out["sites"].where(out["sites"] > 0)).round(1)
    return out.assign(compliance_pct=pct).rename(columns={"group": by or "area"}).reset_index(
        drop=True)


# --- Store shapes -------------------------------------------------------------------
# The store keeps sites as points and samples in long form (one row per measurement),
# so that new parameters need no schema change.

_STORED_SITE_COLUMNS = ("site_name", "site_type", "waterbody", "river", "target_class")


def sites_from_table(table: pd.DataFrame) -> tuple[Any, list[dict]]:
    """Monitoring sites as points (EPSG:4490) from a site table with 经度/纬度.

    Returns the GeoDataFrame of sites with readable coordinates and the problems found
    (a site without coordinates is an error naming its row).
    """
    import geopandas as gpd

    frame, problems = normalize_samples(table)
    for col in ("lon", "lat"):
        if col not in frame:
            raise InputError(f"the site table has no {'经度' if col == 'lon' else '纬度'} "
                             "column; add longitude and latitude in degrees")
    missing = frame["lon"].isna() | frame["lat"].isna()
    for row in frame.loc[missing, "source_row"]:
        problems.append(_problem(int(row), "经度/纬度", "missing_value",
                                 f"第{row}行没有坐标；请填写经度和纬度(度)"))
    frame = frame[~missing]
    cols = [c for c in _STORED_SITE_COLUMNS if c in frame]
    sites = gpd.GeoDataFrame(frame[cols].reset_index(drop=True),
                             geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                             crs="EPSG:4490")
    return sites, problems


def samples_long(samples: pd.DataFrame) -> pd.DataFrame:
    """Normalised samples (wide) → ``site_name, date, param, value, below_dl`` rows."""
    params = [c for c in _MEASURES if c in samples]
    rows = []
    dates = samples["date"].dt.strftime("%Y-%m-%d") if "date" in samples else None
    for code in params:
        values = samples[code]
        below = samples.get(f"{code}_below_dl", pd.Series(False, index=samples.index))
        keep = values.notna() | below.fillna(False).astype(bool)
        rows.append(pd.DataFrame({
            "site_name": samples.loc[keep, "site_name"].astype(object),
            "date": None if dates is None else dates[keep].astype(object),
            "param": code,
            "value": values[keep].astype(float),
            "below_dl": below[keep].fillna(False).astype(int),
        }))
    if not rows:
        return pd.DataFrame(columns=["site_name", "date", "param", "value", "below_dl"])
    return pd.concat(rows, ignore_index=True)


def samples_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Stored long samples → the wide frame :func:`annual_site_classes` takes."""
    if long.empty:
        return pd.DataFrame(columns=["site_name", "date"])
    keys = ["site_name", "date"]
    values = long.pivot_table(index=keys, columns="param", values="value", aggfunc="first")
    below = long.pivot_table(index=keys, columns="param", values="below_dl", aggfunc="max")
    below = below.fillna(0).astype(bool).add_suffix("_below_dl")
    wide = values.join(below).reset_index()
    wide.columns.name = None
    wide["date"] = pd.to_datetime(wide["date"], errors="coerce")
    return wide


def site_table(sites: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Sites with their annual class, for people (CSV, XLSX)."""
    zh = lang == "zh"
    names = {"site_name": ("点位名称", "Site"), "site_type": ("点位类型", "Type"),
             "river": ("河流", "River"), "township": ("乡镇", "Township"),
             "target_class": ("水质目标", "Target"), "water_class": ("水质类别", "Class"),
             "deciding": ("定类因子", "Deciding parameters"),
             "meets_target": ("是否达标", "Meets target")}
    types = {"river": ("河流", "river"), "lake": ("湖库", "lake/reservoir"),
             "drinking": ("饮用水源", "drinking-water source")}
    out = pd.DataFrame(sites[[c for c in names if c in sites]]).copy()
    if "site_type" in out:
        out["site_type"] = out["site_type"].map(
            lambda t: types.get(t, (t, t))[0 if zh else 1])
    if "meets_target" in out:
        out["meets_target"] = out["meets_target"].map(
            lambda v: "" if v is None or v is pd.NA else (("是" if v else "否") if zh
                                                          else ("yes" if v else "no")))
    return out.rename(columns={c: n[0 if zh else 1] for c, n in names.items()})
