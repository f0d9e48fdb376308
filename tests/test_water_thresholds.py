"""Every threshold of GB 3838-2002 Table 1, just below, at and just above, for every parameter.

The limits are a copy of the published table written out below (``TABLE``), checked
against the shared domain file and the package's data file as raw CSV — never taken
from ``ecomap.water.PARAMETERS``.  The expected class is the standard's own wording:
the best class whose limit the value meets (a ceiling, a floor for DO, 6–9 for pH),
"劣V" when it meets none; where classes share a limit, the better one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from ecomap.water import classify_samples, normalize_samples

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "domain" / "gb3838_2002_table1.csv"
PACKAGED = ROOT / "src" / "ecomap" / "data" / "gb3838_2002_table1.csv"

# GB 3838-2002 Table 1, basic items (mg/L; pH dimensionless; fecal coliforms 个/L).
TABLE = """\
param,direction,I,II,III,IV,V
pH,range,6-9,6-9,6-9,6-9,6-9
DO,min,7.5,6,5,3,2
CODMn,max,2,4,6,10,15
COD,max,15,15,20,30,40
BOD5,max,3,3,4,6,10
NH3N,max,0.15,0.5,1.0,1.5,2.0
TP,max,0.02,0.1,0.2,0.3,0.4
TP_lake,max,0.01,0.025,0.05,0.1,0.2
TN,max,0.2,0.5,1.0,1.5,2.0
Cu,max,0.01,1.0,1.0,1.0,1.0
Zn,max,0.05,1.0,1.0,2.0,2.0
F,max,1.0,1.0,1.0,1.5,1.5
Se,max,0.01,0.01,0.01,0.02,0.02
As,max,0.05,0.05,0.05,0.1,0.1
Hg,max,0.00005,0.00005,0.0001,0.001,0.001
Cd,max,0.001,0.005,0.005,0.005,0.01
Cr6,max,0.01,0.05,0.05,0.05,0.1
Pb,max,0.01,0.01,0.05,0.05,0.1
CN,max,0.005,0.05,0.2,0.2,0.2
phenol,max,0.002,0.002,0.005,0.01,0.1
oil,max,0.05,0.05,0.05,0.5,1.0
LAS,max,0.2,0.2,0.2,0.3,0.3
S2,max,0.05,0.1,0.2,0.5,1.0
fecal_coliform,max,200,2000,10000,20000,40000
"""
CLASSES = ["I", "II", "III", "IV", "V"]
ROWS = {r["param"]: r for r in csv.DictReader(io.StringIO(TABLE))}
# The headers the county's spreadsheets use (the list).
HEADER = {"pH": "pH", "DO": "溶解氧", "CODMn": "高锰酸盐指数", "COD": "化学需氧量",
          "BOD5": "五日生化需氧量", "NH3N": "氨氮", "TP": "总磷", "TP_lake": "总磷", "TN": "总氮",
          "Cu": "铜", "Zn": "锌", "F": "氟化物", "Se": "硒", "As": "砷", "Hg": "汞", "Cd": "镉",
          "Cr6": "六价铬", "Pb": "铅", "CN": "氰化物", "phenol": "挥发酚", "oil": "石油类",
          "LAS": "阴离子表面活性剂", "S2": "硫化物", "fecal_coliform": "粪大肠菌群"}
JUST = 1e-3  # "just" below/above: 0.1 % of the limit


def expected(param: str, value: float) -> str:
    """The standard's wording, applied to one value."""
    row = ROWS[param]
    if row["direction"] == "range":
        return "I" if 6 <= value <= 9 else "劣V"
    for cls in CLASSES:
        limit = float(row[cls])
        if (value <= limit) if row["direction"] == "max" else (value >= limit):
            return cls
    return "劣V"


def cases(param: str) -> list[float]:
    row = ROWS[param]
    if row["direction"] == "range":
        limits = {6.0, 9.0}
    else:
        limits = {float(row[c]) for c in CLASSES}
    return sorted(v for lim in limits for v in (lim * (1 - JUST), lim, lim * (1 + JUST)))


def classified(param: str, texts: list[str], waterbody: str) -> pd.DataFrame:
    raw = pd.DataFrame({"断面名称": [f"s{i}" for i in range(len(texts))],
                        HEADER[param]: texts})
    frame, problems = normalize_samples(raw)
    assert problems == []
    return classify_samples(frame, waterbody=waterbody)


def _column(param: str) -> str:
    return "class_TP" if param == "TP_lake" else f"class_{param}"


def test_the_copy_is_the_published_table():
    for path in (PACKAGED, SHARED):
        if not path.exists():  # the shared folder sits beside the checkout
            continue
        with open(path, encoding="utf-8") as f:
            published = {r["param"]: r for r in csv.DictReader(f)}
        assert published.keys() == ROWS.keys(), path
        for param, row in ROWS.items():
            for key in ("direction", *CLASSES):
                assert published[param][key] == row[key], (path, param, key)


@pytest.mark.parametrize("param", list(ROWS))
def test_just_below_at_and_just_above_every_limit(param):
    values = cases(param)
    body = "lake" if param in ("TP_lake", "TN") else "river"
    out = classified(param, [repr(v) for v in values], body)
    want = [expected(param, v) for v in values]
    assert out[_column(param)].tolist() == want
    # The sample's class is the parameter's, except for fecal coliforms: reference only.
    counted = param != "fecal_coliform"
    assert out["class"].tolist() == (want if counted else [None] * len(want))


@pytest.mark.parametrize("param", [p for p in ROWS if ROWS[p]["direction"] == "max"])
def test_below_detection_meets_every_limit_at_or_above_the_dl(param):
    """``<DL`` and ``DL``+``L`` at each limit: meets it (and all above); just above a
    limit: does not meet it — the value is taken as the DL."""
    limits = sorted({float(ROWS[param][c]) for c in CLASSES})
    dls = [d for lim in limits for d in (lim, lim * (1 + JUST))]
    texts = [t for d in dls for t in (f"<{d!r}", f"{d!r}L")] + ["ND", "未检出"]
    body = "lake" if param in ("TP_lake", "TN") else "river"
    out = classified(param, texts, body)
    want = [expected(param, d) for d in dls for _ in range(2)] + ["I", "I"]
    assert out[_column(param)].tolist() == want
    assert out[f"{'TP' if param == 'TP_lake' else param}_below_dl"].all()


def test_tp_differs_for_rivers_and_lakes():
    # 0.05: river II (0.02 < 0.05 <= 0.1); lake III (0.025 < 0.05 <= 0.05).
    # 0.024: river II; lake II (0.01 < 0.024 <= 0.025).  0.26: river IV; lake 劣V (> 0.2).
    texts = ["0.05", "0.024", "0.26"]
    assert classified("TP", texts, "river")["class"].tolist() == ["II", "II", "IV"]
    assert classified("TP", texts, "lake")["class"].tolist() == ["III", "II", "劣V"]


def test_tn_counts_for_lakes_only():
    # TN 2.5 is beyond the V limit 2.0: 劣V in a lake, not counted in a river.
    lake = classified("TN", ["2.5", "0.2"], "lake")
    assert lake["class"].tolist() == ["劣V", "I"] and lake["deciding"].tolist() == ["总氮", ""]
    river = classified("TN", ["2.5", "0.2"], "river")
    assert river["class"].isna().all() and river["class_TN"].isna().all()


def test_equal_limits_give_the_better_class():
    # COD: I and II both 15 → 15 is I; BOD5: I and II both 3 → 3 is I;
    # Se: I–III 0.01 → I; Hg: I and II 0.00005 → I; oil: I–III 0.05 → I.
    for param, text in [("COD", "15"), ("BOD5", "3"), ("Se", "0.01"), ("Hg", "0.00005"),
                        ("oil", "0.05")]:
        assert classified(param, [text], "river")["class"].tolist() == ["I"], param
    # Just over the shared limit skips the class that shares it: COD 15.1 → III (<= 20).
    assert classified("COD", ["15.1"], "river")["class"].tolist() == ["III"]


def test_worse_than_v_is_lie_v():
    # Beyond each V limit: NH3N 2.01 > 2.0; DO 1.99 < 2; pH 9.01; Cd 0.0101 > 0.01.
    for param, text in [("NH3N", "2.01"), ("DO", "1.99"), ("pH", "9.01"), ("Cd", "0.0101")]:
        out = classified(param, [text], "river")
        assert out["class"].tolist() == ["劣V"] and out["class_rank"].tolist() == [6], param


def test_below_detection_do_and_unknown_dl():
    # DO below detection meets no floor → 劣V.  ND (no DL) meets every ceiling → I.
    assert classified("DO", ["<0.5"], "river")["class"].tolist() == ["劣V"]
    assert classified("Hg", ["ND", "未检出"], "river")["class"].tolist() == ["I", "I"]
