"""The water-data rules both store backends apply when they store or roll back a batch.

Backends differ only in how rows are read and written; what is refused, and the message
a user reads, is written once, here.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from ecomap import crs as _crs
from ecomap.errors import StoreError, ValidationError
from ecomap.i18n import tr

__all__ = ["check_water", "check_water_rollback", "prepare_water"]


def prepare_water(sites, samples):
    """Sites (EPSG:4490) and samples of ``Store.add_water``, empty ones made explicit.

    Returns the sites, their attribute frame, the samples, the years the samples cover
    and the number of samples (site and date).
    """
    if sites is None or not len(sites):
        sites = gpd.GeoDataFrame({"site_name": []}, geometry=gpd.GeoSeries(
            [], crs=_crs.STORE_CRS))
    if samples is None:
        samples = pd.DataFrame(columns=["site_name", "date", "param", "value", "below_dl"])
    sites = _crs.to_store_crs(sites)
    frame = pd.DataFrame(sites.drop(columns=sites.geometry.name)).reset_index(drop=True)
    years = pd.to_datetime(samples["date"], errors="coerce").dt.year.dropna().unique()
    n = len(samples.drop_duplicates(["site_name", "date"]))
    return sites, frame, samples, years, n


def check_water(names: pd.Series, samples: pd.DataFrame, *, stored: dict,
                old_samples: pd.DataFrame | None, location: str) -> None:
    """Refuse (:class:`ValidationError`) what would break one site per name and one value
    per site, date and parameter.

    ``stored``: site name → batch of the stored sites; ``old_samples``: stored
    ``site_name, date, param, batch_id``.
    """
    problems = []
    for name in sorted(set(names[names.duplicated()])):
        problems.append(tr("点位 {name!r} 出现了两次; 每个点位只保留一行",
                           "site {name!r} is given twice; keep one row per site", name=name))
    for name in sorted(set(names) & stored.keys()):
        problems.append(tr("点位 {name!r} 已在库中 (批次 {batch}); 请去掉它, 或先撤销批次 "
                           "{batch} 再替换",
                           "site {name!r} is already stored (batch {batch}); leave it out, or "
                           "roll back batch {batch} first to replace it", name=name,
                           batch=stored[name]))
    for name in sorted(set(samples["site_name"]) - stored.keys() - set(names)):
        problems.append(tr("样品中的点位 {name!r} 不在库中; 请先导入该点位, 或与样品一起导入 "
                           "(ecomap water ingest --sites FILE)",
                           "samples name the site {name!r}, which is not stored; store the "
                           "site first or with the samples (ecomap water ingest --sites FILE)",
                           name=name))
    keys = ["site_name", "date", "param"]
    for key in samples.loc[samples.duplicated(keys), keys].drop_duplicates().itertuples(
            index=False):
        problems.append(tr("{site!r} {date} 的 {param} 出现了两次; 每个点位、日期、项目只保留"
                           "一个值",
                           "{param} of {site!r} on {date} is given twice; keep one value per "
                           "site, date and parameter", param=key.param, site=key.site_name,
                           date=key.date))
    if len(samples) and old_samples is not None and len(old_samples):
        hit = samples[keys].merge(old_samples, on=keys).groupby(["site_name", "date",
                                                                 "batch_id"])
        for (name, date, batch), group in hit:
            problems.append(tr("{site!r} {date} 的 {params} 已在批次 {batch} 中入库; 若本文件"
                               "要替换它, 请先撤销批次 {batch}",
                               "{params} of {site!r} on {date} already stored in batch "
                               "{batch}; roll back batch {batch} first if this file replaces "
                               "it", params=", ".join(group["param"]), site=name, date=date,
                               batch=batch))
    if problems:
        raise ValidationError(tr("与 {location} 中的水质数据有 {n} 处冲突; 未入库",
                                 "{n} conflict(s) with the water data in {location}; nothing "
                                 "was stored", n=len(problems), location=location), [
                                  {"severity": "error", "code": "water_conflict",
                                   "feature": None, "field": None, "message": m}
                                  for m in problems])


def check_water_rollback(batch_id: int, rows: list[tuple]) -> None:
    """Refuse to roll back sites that later batches' samples refer to.

    ``rows``: (batch_id, site_name) of samples in other batches naming this batch's sites.
    """
    if rows:
        later = ", ".join(map(str, sorted({r[0] for r in rows})))
        sites = ", ".join(sorted({r[1] for r in rows}))
        raise StoreError(tr("批次 {batch} 中的水质点位被批次 {later} 的样品引用 ({sites}); "
                            "请先撤销批次 {later}",
                            "batch {batch} holds water sites that samples of batch(es) "
                            "{later} refer to ({sites}); roll back batch(es) {later} first",
                            batch=batch_id, later=later, sites=sites))
