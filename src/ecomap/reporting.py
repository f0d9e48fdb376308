"""Validation reports for people: a terminal table, an HTML page with a map of the
problem features; and for tools: the JSON of :meth:`ecomap.validate.Outcome.to_json`."""

from __future__ import annotations

import html
import json

from ecomap.validate import Outcome

__all__ = ["report_html", "report_json", "status_line"]

_STATUS = {"accept": ("通过", "accepted"), "warn": ("通过(有警告)", "accepted with warnings"),
           "reject": ("拒绝(未入库)", "rejected, nothing stored")}


def report_json(outcome: Outcome) -> str:
    return json.dumps(outcome.to_json(), ensure_ascii=False, indent=1)


def status_line(outcome: Outcome, *, lang: str = "zh") -> str:
    """One line: status, features read and accepted, area."""
    j = outcome.to_json()
    word = _STATUS[j["status"]][0 if lang == "zh" else 1]
    if lang == "zh":
        return (f"{j['file']}: {word}; 读取 {j['features']} 个要素, 接受 "
                f"{j['accepted_features']} 个, 面积 {j['area_mu']:,.2f} 亩; 坐标系 {j['crs']} "
                f"({j['crs_source']}); 编码 {j['encoding'] or '-'}")
    return (f"{j['file']}: {word}; {j['features']} features read, {j['accepted_features']} "
            f"accepted, {j['area_mu']:,.2f} mu; CRS {j['crs']} ({j['crs_source']}); "
            f"encoding {j['encoding'] or '-'}")


def report_html(outcome: Outcome, *, lang: str = "zh") -> str:
    """A self-contained HTML report: summary, problems table, map of problem features."""
    from ecomap.maps import review_map, to_html

    j = outcome.to_json()
    rows = "".join(
        f"<tr class='{p['severity']}'><td>{html.escape(p['severity'])}</td>"
        f"<td>{html.escape(p['code'])}</td><td>{html.escape(str(p['feature'] or ''))}</td>"
        f"<td>{html.escape(str(p['field'] or ''))}</td><td>{html.escape(p['message'])}</td></tr>"
        for p in j["problems"])
    towns = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,.2f}</td></tr>"
                    for k, v in j["by_township"].items())
    head = ("严重程度", "代码", "要素", "字段", "说明") if lang == "zh" else (
        "Severity", "Code", "Feature", "Field", "Message")
    map_html = ""
    geoms = outcome.problem_geoms
    geoms = geoms[~geoms.geometry.is_empty & geoms.geometry.notna()]
    if len(geoms):
        page = to_html(review_map(outcome.plots.iloc[:0], geoms, lang=lang))
        map_html = (f'<iframe style="width:100%;height:440px;border:1px solid #ccc" '
                    f'srcdoc="{html.escape(page)}"></iframe>')
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
