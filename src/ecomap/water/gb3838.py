"""GB 3838-2002 Table 1 (basic items) as data: the limits every water module reads."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["CLASSES", "MEASURES", "PARAMETERS", "Parameter", "class_rank"]

#: Water classes from best to worst.
CLASSES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "劣V")


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


def _load() -> dict[str, Parameter]:
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
PARAMETERS: dict[str, Parameter] = _load()

#: Codes of what a sample may hold: water temperature, then Table 1 (one TP).
MEASURES: tuple[str, ...] = ("temp", *(c for c in PARAMETERS if c != "TP_lake"))


def class_rank(name: object) -> int | None:
    """1 for class I … 6 for 劣V; None for anything else."""
    return CLASSES.index(name) + 1 if name in CLASSES else None
