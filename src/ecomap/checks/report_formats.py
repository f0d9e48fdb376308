"""Validation reports for people: a terminal table, an HTML page with a map of the
problem features; and for tools: the JSON of :meth:`ecomap.checks.Outcome.to_json`."""

from __future__ import annotations

import html
import json

from ecomap.checks.report import Outcome
from ecomap.i18n import current_lang, tr

__all__ = ["report_html", "report_json", "severity_word", "status_line"]

_STATUS = {"accept": tr("通过", "accepted"), "warn": tr("通过(有警告)", "accepted with warnings"),
           "reject": tr("拒绝(未入库)", "rejected, nothing stored")}


_SEVERITY = {"error": tr("错误", "error"), "warning": tr("警告", "warning")}


def severity_word(severity: str, lang: str | None = None) -> str:
    """``error``/``warning`` as people read them (错误/警告 in Chinese)."""
    word = _SEVERITY.get(severity)
    return word.render(lang) if word is not None else severity


def report_json(outcome: Outcome, *, lang: str | None = None) -> str:
    """The JSON report, messages in ``lang`` (default: the language in force)."""
    return json.dumps(outcome.to_json(lang), ensure_ascii=False, indent=1)


def status_line(outcome: Outcome, *, lang: str | None = None) -> str:
    """One line: status, features read and accepted, area stored (none when rejected)."""
    lang = lang or current_lang()
    j = outcome.to_json(lang)
    facts = dict(file=j["file"], word=_STATUS[j["status"]], read=j["features"],
                 crs=j["crs"] or "-", source=j["crs_source"] or "-",
                 encoding=j["encoding"] or "-")
    if j["status"] == "reject":
        checked = tr("; 检查通过的要素共 {mu:,.1f} 亩, 也未入库",
                     "; the features that passed their checks, {mu:,.1f} mu, are not stored "
                     "either", mu=j["checked_area_mu"]) if j["checked_area_mu"] else ""
        line = tr("{file}: {word}; 读取 {read} 个要素, 入库 0 个, 入库面积 0 亩{checked}; "
                  "坐标系 {crs} ({source}); 编码 {encoding}",
                  "{file}: {word}; {read} features read, 0 stored, 0 mu stored{checked}; "
                  "CRS {crs} ({source}); encoding {encoding}", checked=checked, **facts)
    else:
        line = tr("{file}: {word}; 读取 {read} 个要素, 接受 {accepted} 个, 面积 {mu:,.1f} 亩; "
                  "坐标系 {crs} ({source}); 编码 {encoding}",
                  "{file}: {word}; {read} features read, {accepted} accepted, {mu:,.1f} mu; "
                  "CRS {crs} ({source}); encoding {encoding}",
                  accepted=j["accepted_features"], mu=j["area_mu"], **facts)
    return line.render(lang)


def report_html(outcome: Outcome, *, lang: str | None = None, townships=None,
                county=None) -> str:
    """A self-contained HTML report: summary, problems table and a map of the file (the
    plots that pass in grey, problem features in red) inside the county and township
    outlines (``county``, ``townships``: from the store, EPSG:4490; without them the
    file alone); in ``lang`` (default: the language in force)."""
    lang = lang or current_lang()
    j = outcome.to_json(lang)
    rows = "".join(
        f"<tr class='{p['severity']}'><td>{html.escape(severity_word(p['severity'], lang))}</td>"
        f"<td>{html.escape(p['code'])}</td><td>{html.escape(str(p['feature'] or ''))}</td>"
        f"<td>{html.escape(str(p['field'] or ''))}</td><td>{html.escape(p['message'])}</td></tr>"
        for p in j["problems"])
    towns = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,.1f}</td></tr>"
                    for k, v in j["by_township"].items())
    head = ("严重程度", "代码", "要素", "字段", "说明") if lang == "zh" else (
        "Severity", "Code", "Feature", "Field", "Message")
    map_html = _map_html(outcome, j, lang=lang, townships=townships, county=county)
    title = "数据检查报告" if lang == "zh" else "Validation report"
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title}: {html.escape(str(j['file']))}</title>
<style>body{{font-family:'Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:20px}}
table{{border-collapse:collapse;margin:10px 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
tr.error td{{background:#fdecea}}tr.warning td{{background:#fff8e1}}</style></head><body>
<h2>{title}</h2><p>{html.escape(status_line(outcome, lang=lang))}</p>
<table><tr><th>{'乡镇' if lang == 'zh' else 'Township'}</th><th>{'面积(亩)' if lang == 'zh'
else 'Area (mu)'}</th></tr>{towns}</table>
<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{rows}</table>
{map_html}</body></html>"""


def _map_html(outcome: Outcome, j: dict, *, lang: str, townships, county) -> str:
    """The review map of the file as an ``<iframe>`` (empty without any geometry)."""
    from ecomap.maps import review_map, to_html

    geoms = outcome.problem_geoms
    geoms = geoms[~geoms.geometry.is_empty & geoms.geometry.notna()].copy()
    plots = outcome.plots
    if not (len(geoms) or len(plots)):
        return ""
    source = str(j["file"] or "")
    said: dict[str, list[str]] = {}
    for p in j["problems"]:
        if p["feature"] is None:
            continue
        text = p["message"]
        text = text[len(source) + 2:] if source and text.startswith(f"{source}: ") else text
        said.setdefault(str(p["feature"]), []).append(
            f"{severity_word(p['severity'], lang)}: {text}")
    if len(geoms):
        # check_plots keeps the file's row positions as the index: number = index + 1.
        geoms["feature"] = [int(i) + 1 for i in geoms.index]
        geoms["problems"] = ["\n".join(said.get(str(label), [])) for label in geoms["label"]]
    passed = (tr("通过检查的要素(文件被拒绝, 均未入库)", "features that pass (file rejected, "
                 "none stored)") if j["status"] == "reject" else
              tr("通过检查的图斑", "plots that pass")).render(lang)
    m = review_map(plots, geoms, townships, county=county, lang=lang, plots_label=passed)
    return (f'<iframe class="ecomap-review-map" style="width:100%;height:480px;'
            f'border:1px solid #ccc" srcdoc="{html.escape(to_html(m))}"></iframe>')
