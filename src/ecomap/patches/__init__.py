"""Forest-inspection patches (森林督查变化图斑): the province's layer imported by ID, each
patch's verification and rectification as a history of events, the template a township
fills in, the progress by township and the report back.

Modules: :mod:`~ecomap.patches.status` (fields, values, transitions, state on a date,
counts, the sentence), :mod:`~ecomap.patches.importing`, :mod:`~ecomap.patches.service`
(single updates, tables read from the store), :mod:`~ecomap.patches.workbook` (template
and bulk update), :mod:`~ecomap.patches.export`.
"""

from ecomap.patches.status import (
    FIELDS,
    STATUSES,
    UNLAWFUL_TYPES,
    VERIFICATIONS,
    allowed_next,
    overdue,
    patch_progress,
    patch_state,
    patch_table,
    patches_sentence,
    plan_change,
    value_label,
)

__all__ = ["FIELDS", "STATUSES", "UNLAWFUL_TYPES", "VERIFICATIONS", "allowed_next",
           "overdue", "patch_progress", "patch_state", "patch_table", "patches_sentence",
           "plan_change", "value_label"]
