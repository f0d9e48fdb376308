"""The map of a year's forest-inspection patches coloured by rectification status.

One layer per status (未核实/未整改, 整改中, 已整改, 已销号, 无需整改), drawn as the plot
layers are (``ecomap.plotLayer``, SVG) with a dot at each patch's centre so that a patch
of a few mu still shows at county scale; overdue patches (deadline passed, not
rectified) get a thick black outline.  A patch's popup holds its state, its history
(the events, latest first) and its photo thumbnails (:func:`ecomap.photos.photo_popups`,
within the map's size budget).  The county and township outlines, title, legend, notes
and the docked layout are the county map's (:mod:`ecomap.maps._furniture`).
"""

from __future__ import annotations

import datetime as dt
import html

import folium
import geopandas as gpd
import pandas as pd

from ecomap.maps import _basemaps, _furniture, _layers, _style
from ecomap.maps._furniture import LegendRow, LegendSection, RawHtml
from ecomap.maps._layers import PlotLayer
from ecomap.maps._vector import Field, Grid, encode_layer, script_json, simplify_layer
from ecomap.patches.status import FIELDS, field_label, overdue, value_label
from ecomap.photos.popup import PopupBudget, photo_popups

__all__ = ["HISTORY_ROWS", "STATUS_CLASSES", "patch_class", "patches_map"]

#: Status classes in legend order: (key, Chinese label, English label, fill, outline).
#: Okabe–Ito colours (safe for the common colour-vision deficiencies): vermillion
#: (hollow while not verified), orange, bluish green, then a dark grey-green for 已销号
#: and a blue-grey outline for 无需整改.
STATUS_CLASSES = [
    ("unverified", "未核实", "Unverified", None, "#d55e00"),
    ("open", "未整改", "Not started", "#d55e00", "#7a3600"),
    ("doing", "整改中", "In progress", "#e69f00", "#7a5400"),
    ("done", "已整改", "Rectified", "#009e73", "#00583f"),
    ("closed", "已销号", "Closed", "#3e5247", "#1c2620"),
    ("lawful", "无需整改(合法)", "No rectification (lawful)", None, "#5a7896"),
]
OVERDUE_STYLE = {"color": "#000000", "weight": 3.5}
#: History rows shown in a popup; the older ones are counted.
HISTORY_ROWS = 8
_FIELD_ORDER = {f: i for i, f in enumerate(FIELDS)}
_TEXT = {
    "title": ("{county}{year}年度森林督查图斑整改状态", "{county} forest-inspection patches of "
              "{year}: rectification"),
    "title_all": ("{county}森林督查图斑整改状态", "{county} forest-inspection patches: "
                  "rectification"),
    "on": ("截至 {on}", "as of {on}"),
    "legend": ("图斑整改状态", "Rectification status"),
    "overdue": ("逾期未整改", "Overdue"),
    "late": ("{d}(逾期 {n} 天)", "{d} ({n} days late)"),
    "history": ("变更记录", "History"),
    "more": ("另有 {n} 条", "{n} more"),
    "when": ("日期", "Date"), "who": ("人员", "By"), "what": ("变更", "Change"),
    "patch_id": ("图斑编号", "Patch ID"), "township": ("乡镇", "Township"),
    "village": ("村", "Village"), "area_mu": ("面积(亩)", "Area (mu)"),
    "change_type": ("变化类型", "Change"),
    "layer": ("{name} ({n})", "{name} ({n})"),
}


def _t(key: str, lang: str, **fmt) -> str:
    zh, en = _TEXT[key]
    return (en if lang == "en" else zh).format(**fmt)


def patch_class(verification, status) -> str:
    """The status class (key of :data:`STATUS_CLASSES`) of a patch's state."""
    if status == "无需整改" or verification == "合法":
        return "lawful"
    if verification in (None, "未核实") and status in (None, "未整改"):
        return "unverified"
    return {"整改中": "doing", "已整改": "done", "已销号": "closed"}.get(status, "open")


def history_html(events: pd.DataFrame, lang: str = "zh", *, rows: int = HISTORY_ROWS) -> str:
    """A patch's events as a table, latest first: one row per change (the fields set at
    the same time by the same user), at most ``rows`` rows then "另有 N 条"."""
    if events is None or not len(events):
        return ""
    ev = events.assign(_o=[_FIELD_ORDER.get(f, 99) for f in events["field"]])
    ev = ev.sort_values(["at", "_o"], kind="stable")
    changes = []
    for (at, user), group in ev.groupby(["at", "user"], sort=False, dropna=False):
        what = "；".join(f"{field_label(f, lang) if f in _FIELD_ORDER else f}："
                        f"{value_label(v, lang)}"
                        for f, v in zip(group["field"], group["value"], strict=True))
        changes.append((str(at)[:10], "" if user is None or user != user else str(user), what))
    changes.sort(key=lambda c: c[0], reverse=True)  # stable: same day keeps its order
    shown, rest = changes[:rows], len(changes) - rows
    body = "".join(f"<tr><td>{_style.html_text(d)}</td><td>{_style.html_text(u)}</td>"
                   f"<td>{_style.html_text(w)}</td></tr>" for d, u, w in shown)
    more = (f'<div class="ecomap-history-more">{html.escape(_t("more", lang, n=rest))}</div>'
            if rest > 0 else "")
    head = "".join(f"<th>{html.escape(_t(k, lang))}</th>" for k in ("when", "who", "what"))
    return (f'<div class="ecomap-popup ecomap-history"><div class="ecomap-history-title">'
            f'{html.escape(_t("history", lang))}</div><table><tr>{head}</tr>{body}</table>'
            f"{more}</div>")


_CSS = """<style>
.ecomap-popup-wrap .leaflet-popup-content{max-height:min(440px,62vh);overflow-y:auto}
.ecomap-history{margin-top:6px}
.ecomap-history-title{color:#555;margin-bottom:3px}
.ecomap-history table{border-collapse:collapse;font-size:11px}
.ecomap-history th,.ecomap-history td{border-top:1px solid #ddd;padding:1px 4px;
 text-align:left;vertical-align:top}
.ecomap-history td:first-child,.ecomap-history td:nth-child(2){white-space:nowrap}
.ecomap-history-more{color:#555;font-size:11px}
</style>"""


class PatchLayer(PlotLayer):
    """A plot layer with a dot at each feature's centre (same popup, tooltip, toggle)
    and a thick outline on the features listed in ``overdue``."""

    def __init__(self, data, options, *, name, dot: dict, overdue: list[int]) -> None:
        super().__init__(data, options, name=name)
        self._name = "PatchLayer"
        self.extra = script_json({"dot": dot, "overdue": overdue, "late": OVERDUE_STYLE})

    def render(self, **kwargs) -> None:
        super().render(**kwargs)
        figure = self.get_root()
        name = self.get_name()
        figure.header.add_child(RawHtml(_CSS), name="ecomap-patches-css")
        js = (f"(function (layer, o) {{ var d = layer._eco.data, late = {{}};\n"
              "  o.overdue.forEach(function (f) { late[f] = true; });\n"
              "  layer.eachLayer(function (p) { if (late[p._ecoIdx]) p.setStyle(o.late); });\n"
              "  for (var f = 0; f < d.n; f++) {\n"
              "    var c = L.circleMarker(d.center(f), L.extend({}, o.dot, late[f] ? "
              "{color: o.late.color, weight: 2.5, radius: o.dot.radius + 1.5} : {}));\n"
              "    c._ecoIdx = f; layer.addLayer(c);\n  }\n"
              f"}})({name}, {self.extra});\n")
        figure.script.add_child(RawHtml(js), name=f"{name}_dots")
        # Popups open below the map's title (it is above the popup pane).
        figure.script.add_child(RawHtml(
            "L.Popup.prototype.options.autoPanPaddingTopLeft = L.point(10, 80);\n"),
            name="ecomap-patches-popup-pad")


def _fields(lang: str) -> list[Field]:
    keys = ["patch_id", "township", "village", "area_mu", "change_type", *FIELDS]
    return [Field(k, _t(k, lang) if k in _TEXT else field_label(k, lang), decimals=2)
            for k in keys]


def _shown(table: pd.DataFrame, late: dict, lang: str) -> pd.DataFrame:
    """The popup's values as text (labels in ``lang``, days late after the deadline)."""
    out = pd.DataFrame({"patch_id": table["patch_id"].astype(str)})
    for k in ("township", "village", "change_type"):
        out[k] = table[k].astype(object).where(table[k].notna(), None) if k in table else None
    out["area_mu"] = pd.to_numeric(table["area_mu"], errors="coerce") \
        if "area_mu" in table else None
    for f in FIELDS:
        out[f] = [value_label(v, lang) or None for v in table[f]]
    out["deadline"] = [_t("late", lang, d=d, n=late[p]) if p in late and d else d
                       for p, d in zip(out["patch_id"], out["deadline"], strict=True)]
    return out


def patches_map(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                patches: gpd.GeoDataFrame, table: pd.DataFrame, events: pd.DataFrame,
                photos: pd.DataFrame | None = None, *, year: int | str = "",
                on=None, county_name: str = "", source: str = "", lang: str = "zh",
                basemap=None, height: str = "100%", paper: str = "A4",
                landscape: bool = True) -> folium.Map:
    """The patches of one year coloured by their status on ``on`` (default: today).

    Parameters
    ----------
    county, townships
        Layers from the store (EPSG:4490).
    patches
        The patch geometries (``patch_id``, geometry), e.g. ``Store.patches(year=…)``.
    table
        :func:`ecomap.patches.status.patch_table` of the patches on ``on``.
    events
        The patches' events (``patch_id``, ``at``, ``user``, ``field``, ``value``); those
        after ``on`` are left out of the history.
    photos
        ``Store.photos(target_kind="patch", thumbnails=True)``, optional.
    """
    from ecomap.maps import _bounds, _is_illustrative, _notes, _overview
    from ecomap.maps._basemaps import get_basemap

    day = on if isinstance(on, dt.date) else (dt.date.fromisoformat(str(on)[:10]) if on
                                              else dt.date.today())
    bm = basemap if basemap is not None and not isinstance(basemap, str) else \
        get_basemap(basemap or "none", lang=lang)
    geo = patches[["patch_id", patches.geometry.name]].assign(
        patch_id=patches["patch_id"].astype(str))
    frame = gpd.GeoDataFrame(table.merge(geo, on="patch_id", how="inner"),
                             geometry=patches.geometry.name, crs=patches.crs)
    county, townships, frame = (_basemaps.to_display(f, bm) for f in (county, townships, frame))
    bounds = _bounds(county, townships, frame)
    grid = Grid.for_bounds(bounds)
    m = _layers.base_map(bounds, lang=lang, basemap=bm, renderer="svg", height=height)
    title = (_t("title", lang, county=county_name, year=year) if year not in ("", None)
             else _t("title_all", lang, county=county_name))
    subtitle = _t("on", lang, on=day.isoformat())
    m.get_root().title = _style.html_text(f"{title} {subtitle}")
    online = _basemaps.add_basemap(m, bm, lang=lang)
    lines = []
    if len(county):
        lines.append(_layers.add_county(m, county, lang=lang, grid=grid))
    illustrative = _is_illustrative(townships)
    if len(townships):
        lines.append(_add_township_outlines(m, townships, lang=lang, grid=grid,
                                            illustrative=illustrative))
    section = _add_patch_layers(m, frame, events, photos, day=day, lang=lang, grid=grid)
    _furniture.add_title(m, title, subtitle)
    _furniture.add_controls(m, lang=lang, search=len(frame) > 0, search_hint="search_patch")
    _furniture.add_legend(m, [LegendSection(_style.text("boundaries", lang), lines), section],
                          "bottomleft", css_class="ecomap-legend-main")
    _furniture.add_notes(m, _notes(lang=lang, source=source, illustrative=illustrative),
                         online=online)
    _furniture.add_minimap(m, _overview(county, townships, grid), print_=False)
    _furniture.page_style(m, paper=paper, landscape=landscape)
    _furniture.finish(m, bounds, layout=True, lang=lang)
    return m


def _add_township_outlines(m, towns, *, lang, grid, illustrative) -> LegendRow:
    """Township borders and names (no fill: the patches carry the colours)."""
    key = "township_line" if illustrative else "township_line_official"
    group = folium.FeatureGroup(name=_style.text(key, lang), overlay=True, control=True)
    style = dict(_style.TOWNSHIP_STYLE, fillColor="#ffffff", fillOpacity=0.0)
    folium.GeoJson(_layers._geojson(towns, ["name"], grid=grid, coverage=True),
                   style_function=lambda _: style, interactive=False).add_to(group)
    pane = _layers._label_pane(m)
    for geom, town in zip(towns.geometry.values, towns["name"], strict=True):
        if geom is None or geom.is_empty:
            continue
        pt = _layers.label_point(geom)
        folium.Marker([pt.y, pt.x], icon=folium.DivIcon(
            html=f'<div class="ecomap-label">{_style.html_text(town)}</div>',
            icon_size=(0, 0), icon_anchor=(0, 0)), interactive=False, pane=pane,
        ).add_to(group)
    group.add_to(m)
    return LegendRow(f'<span class="ecomap-line" style="{_style.TOWNSHIP_LINE}"></span>',
                     _style.text(key, lang), group)


def _add_patch_layers(m, frame, events, photos, *, day, lang, grid) -> LegendSection:
    section = LegendSection(_t("legend", lang), [], "ecomap-legend-patches")
    late = {}  # patch ID → days late on ``day``
    if len(frame):
        late = overdue(frame, on=day).set_index("patch_id")["days_late"].to_dict()
    frame = frame.assign(_class=[patch_class(v, s) for v, s in
                                 zip(frame["verification"], frame["status"], strict=True)])
    ev = events if events is not None else pd.DataFrame(
        columns=["patch_id", "at", "user", "field", "value"])
    ev = ev[ev["at"].astype(str) <= f"{day.isoformat()}T23:59:59Z"]
    ev_by = {str(k): g for k, g in ev.groupby("patch_id", sort=False)}
    fields = _fields(lang)
    budget = PopupBudget()  # one size budget for the thumbnails of the whole map
    rows = {}
    # Drawn from the done to the open, so that the work left is on top; listed in order.
    for key, zh, en, fill, line in reversed(STATUS_CLASSES):
        group = frame[frame["_class"] == key].sort_values("patch_id").reset_index(drop=True)
        label = en if lang == "en" else zh
        n = len(group)
        swatch = (f"background:{fill};border-color:{line}" if fill else
                  f"background:#fff;border:2px solid {line};width:8px;height:8px")
        if not n:  # every status has its row, with 0 (nothing to toggle)
            rows[key] = LegendRow(f'<span class="ecomap-dot" style="{swatch}"></span>',
                                  _t("layer", lang, name=label, n=0))
            continue
        style = ({"color": line, "weight": 1.5, "fillColor": fill, "fillOpacity": 0.85}
                 if fill else {"color": line, "weight": 2.5, "fill": False})
        dot = {"radius": 5, "color": line, "weight": 1.2 if fill else 2.5,
               "fillColor": fill or "#ffffff",
               "fillOpacity": 0.95 if fill else 0.6,
               "className": "ecomap-site ecomap-patch-dot"}  # labels move off the dots
        geoms = simplify_layer(group.geometry.values, grid.qy)
        extra = _popup_extra(group["patch_id"], ev_by, photos, lang, budget)
        options = {"title": label, "mode": "svg", "style": style,
                   "highlight": _style.HIGHLIGHT_STYLE, "tooltip": ["patch_id", "status"],
                   "search": ["patch_id", "village"], "photos": extra}
        shown = _shown(group, late, lang)
        shown = gpd.GeoDataFrame(shown, geometry=group.geometry.values, crs=group.crs)
        data = encode_layer(shown.set_geometry(geoms), fields, grid)
        overdue_idx = [i for i, p in enumerate(group["patch_id"]) if p in late]
        layer = PatchLayer(data, options, name=_t("layer", lang, name=label, n=n), dot=dot,
                           overdue=overdue_idx)
        layer.add_to(m)
        rows[key] = LegendRow(f'<span class="ecomap-dot" style="{swatch}"></span>',
                              _t("layer", lang, name=label, n=n), layer)
    section.rows += [rows[key] for key, *_ in STATUS_CLASSES]
    section.rows.append(LegendRow(
        '<span class="ecomap-dot" style="background:#fff;border:3px solid #000;width:6px;'
        'height:6px"></span>', _t("layer", lang, name=_t("overdue", lang), n=len(late))))
    return section


def _popup_extra(ids, ev_by: dict, photos, lang: str, budget: PopupBudget) -> dict:
    """Feature number → the history and photos part of its popup (trusted HTML)."""
    thumbs = [""] * len(ids)
    if photos is not None and len(photos):
        thumbs = photo_popups(list(ids), photos, lang, kind="patch", budget=budget)
    out = {}
    for i, (pid, ph) in enumerate(zip(ids, thumbs, strict=True)):
        text = history_html(ev_by.get(str(pid)), lang) + ph
        if text:
            out[str(i)] = text
    return out
