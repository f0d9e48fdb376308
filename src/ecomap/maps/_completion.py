"""The completion-rate layer of the county map: each township coloured by how much of its
assigned tasks (上级下达任务) it has done, with a legend that breaks at 100 %.

A township's rate adds up its restoration tasks in 亩 (km² tasks converted, 1 km² =
1500 亩): the work done in the categories it has a target for, over those targets.
Frames in (:func:`ecomap.targets.progress_table` by township), a folium layer out.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from ecomap.maps._furniture import LegendRow, LegendSection
from ecomap.maps._vector import Grid
from ecomap.schema import category_label
from ecomap.units import M2_PER_KM2, M2_PER_MU

__all__ = ["BINS", "add_completion", "township_rates"]

#: Upper bounds (%) of the classes; 100 % is a class border, as a report reads it.
BINS = (80.0, 90.0, 100.0, 110.0, np.inf)
#: Red (far behind) to green (done): ColorBrewer RdYlGn, colour-blind safe at five.
COLORS = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")
NO_TARGET = "#ffffff"

_TEXT = {
    "layer": ("任务完成率", "Target completion"),
    "title": ("任务完成率(%)", "Target completion (%)"),
    "none": ("无乡镇任务", "no township target"),
    "rate": ("完成率", "Completion"),
}


def _t(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def township_rates(progress: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """``township, rate, detail`` of every township with a target in an area unit:
    the rate in %, and each category's rate as text for the tooltip."""
    rows = progress[progress["township"].notna() & progress["target"].notna()
                    & progress["unit"].isin(["mu", "km2"])]
    to_mu = rows["unit"].map({"km2": M2_PER_KM2 / M2_PER_MU}).fillna(1.0)
    frame = rows.assign(target_mu=rows["target"] * to_mu, done_mu=rows["done"] * to_mu)
    out = []
    for town, g in frame.groupby("township", sort=False):
        rate = 100.0 * g["done_mu"].sum() / g["target_mu"].sum()
        detail = ("；" if lang == "zh" else "; ").join(
            f"{category_label(r.category, lang)} {r.rate:.1f}%"
                           for r in g.itertuples())
        out.append({"township": town, "rate": round(rate, 1), "detail": detail})
    return pd.DataFrame(out, columns=["township", "rate", "detail"])


def _labels(lang: str) -> list[str]:
    lows = ["", "80", "90", "100", "110"]
    highs = ["80", "90", "100", "110", ""]
    out = []
    for lo, hi in zip(lows, highs, strict=True):
        if not lo:
            out.append(f"< {hi}")
        elif not hi:
            out.append(f"≥ {lo}")
        else:
            out.append(f"{lo} – {hi}")
    return out


def add_completion(m: folium.Map, towns: gpd.GeoDataFrame, progress: pd.DataFrame, *,
                   lang: str, grid: Grid) -> LegendSection | None:
    """The layer (off at first) and its legend section (shown with it); None when no
    township has a target."""
    from ecomap.maps._layers import _geojson

    rates = township_rates(progress, lang=lang).set_index("township")
    if rates.empty:
        return None
    rate = rates["rate"].reindex(towns["name"])
    classes = np.searchsorted(np.asarray(BINS), rate.fillna(0).to_numpy(), side="right")
    colors = [NO_TARGET if pd.isna(r) else COLORS[min(c, len(COLORS) - 1)]
              for r, c in zip(rate, classes, strict=True)]
    shown = [_t("none", lang) if pd.isna(r) else f"{r:.1f}%" for r in rate]
    details = rates["detail"].reindex(towns["name"]).fillna("").tolist()
    frame = towns.assign(_rate=shown, _detail=details, _color=colors)
    group = folium.FeatureGroup(name=_t("layer", lang), overlay=True, control=True,
                                show=False)
    folium.GeoJson(
        _geojson(frame, ["name", "_rate", "_detail", "_color"], grid=grid, coverage=True),
        style_function=lambda f: {"color": "#555555", "weight": 1, "fillOpacity": 0.85,
                                  "fillColor": f["properties"]["_color"]},
        tooltip=folium.GeoJsonTooltip(["name", "_rate", "_detail"],
                                      aliases=["", _t("rate", lang), ""],
                                      style="white-space: normal; max-width: 340px;"),
    ).add_to(group)
    group.add_to(m)
    rows = [LegendRow(f'<span class="ecomap-swatch" style="background:{c}"></span>', text)
            for c, text in zip(COLORS, _labels(lang), strict=True)]
    if rate.isna().any():
        rows.append(LegendRow(f'<span class="ecomap-swatch" style="background:{NO_TARGET}">'
                              "</span>", _t("none", lang)))
    return LegendSection(_t("title", lang), rows, layers=[group])
