"""The township (乡镇) each plot declares, against the one it lies in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecomap.i18n import tr

if TYPE_CHECKING:
    from ecomap.checks.plots import CheckContext

__all__ = ["check_townships"]


def check_townships(reported, lies_in, accepted_idx, context: CheckContext, names: dict,
                    add) -> None:
    """Declared townships (乡镇), as clerks type them, against where each plot lies.

    Names are compared after :func:`ecomap.townnames.match_township` has seen through
    spaces, suffixes, the county's name, traditional characters and notes in brackets.
    ``add(i, severity, code, message, field)`` records a problem of feature ``i``
    (see :func:`~ecomap.checks.plots.check_plots`).
    """
    from ecomap.townnames import match_township

    official = [str(n) for n in context.township_names if n is not None]
    if not official:
        return
    field_town = names.get("township_reported", "乡镇")
    # A blank cell counts only in a 乡镇 column of the file (not for KML folders).
    blank_counts = "township_reported" in names and field_town != "folder"
    listed = "、".join(official)
    text = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in reported], dtype=object)
    blank = np.array([not t.strip() for t in text], dtype=bool)
    # Each distinct spelling matched once (files repeat a few names many times).
    matched = {t: match_township(t, official, context.county_name)
               for t in set(text[~blank].tolist())}
    official_of = np.array([matched.get(t) if not b else None
                            for t, b in zip(text, blank, strict=True)], dtype=object)
    lies = np.array([v if isinstance(v, str) else None for v in lies_in], dtype=object)
    unknown = ~blank & pd.isna(official_of)
    differs = ~blank & ~unknown & pd.notna(lies) & (official_of != lies)
    todo = (blank & blank_counts) | unknown | differs
    for pos in np.flatnonzero(todo):
        i, said, where = accepted_idx[pos], text[pos].strip(), lies[pos]
        in_town = tr("（地块位于{t}）", " (the plot lies in {t})", t=where) if where else ""
        if blank[pos]:
            add(i, "warning", "township_unknown", tr(
                "{field} 为空；本县乡镇为：{names}{lies}",
                "{field} is blank; the county's townships are: {names}{lies}",
                field=field_town, names=listed, lies=in_town), field_town)
        elif unknown[pos]:
            add(i, "warning", "township_unknown", tr(
                "{field} 的值“{said}”不是本县的乡镇名{lies}；请改为以下之一：{names}",
                "{field} says {said!r}, which is no township of the county{lies}; use one "
                "of: {names}", field=field_town, said=said, names=listed, lies=in_town),
                field_town)
        else:
            read_as = "" if said == official_of[pos] else official_of[pos]
            add(i, "warning", "township_mismatch", tr(
                "{field} 写的是 {said}{read_as}，但地块位于 {lies}",
                "{field} says {said}{read_as} but the plot lies in {lies}",
                field=field_town, said=said, lies=where,
                read_as=tr("（即 {n}）", " (read as {n})", n=read_as) if read_as else ""),
                field_town)
