"""Targets assigned from above (上级下达任务) and progress against them.

- :mod:`ecomap.targets.read`: targets tables as the bureau writes them, checked;
- :mod:`ecomap.targets.progress`: target, done, rate per township and category, year over
  year, and the sentence a report closes with (frames in, frames out);
- :mod:`ecomap.targets.service`: the same, from a store.
"""

from __future__ import annotations

from ecomap.targets.progress import (
    PROGRESS_COLUMNS,
    YOY_COLUMNS,
    done_table,
    progress_display,
    progress_records,
    progress_sentence,
    progress_table,
    year_over_year,
    yoy_display,
    yoy_records,
)
from ecomap.targets.read import normalize_targets, read_targets, unit_label
from ecomap.targets.service import import_targets, latest_target_year, store_progress, store_year_over_year

__all__ = ["PROGRESS_COLUMNS", "YOY_COLUMNS", "done_table", "import_targets", "latest_target_year",
           "normalize_targets", "progress_display", "progress_records", "progress_sentence",
           "progress_table", "read_targets", "store_progress", "store_year_over_year",
           "unit_label", "year_over_year", "yoy_display", "yoy_records"]
