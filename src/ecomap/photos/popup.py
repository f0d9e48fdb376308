"""Photos in map popups: thumbnails inline (data URIs), within a size budget so that the
offline single-file maps stay small.

A :class:`PopupBudget` is shared by every popup of one map: at most ``per_feature``
thumbnails per feature and ``max_bytes`` of thumbnails in the whole map; the photos left
out are counted ("另有 N 张照片").
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

__all__ = ["PER_FEATURE", "PopupBudget", "MAP_BYTES", "photo_popup_html"]

#: Thumbnails shown per feature, and bytes of thumbnails (before base64) per map.
PER_FEATURE = 3
MAP_BYTES = 2_000_000


@dataclass
class PopupBudget:
    """What the popups of one map may still spend on thumbnails."""

    per_feature: int = PER_FEATURE
    max_bytes: int = MAP_BYTES
    spent: int = 0

    def take(self, size: int) -> bool:
        """Spend ``size`` bytes when they fit; whether they did."""
        if self.spent + size > self.max_bytes:
            return False
        self.spent += size
        return True


def _field(photo, name: str):
    return photo.get(name) if isinstance(photo, dict) else getattr(photo, name, None)


def photo_popup_html(thumbnails, lang: str = "zh", *, budget: PopupBudget | None = None) -> str:
    """The photos part of a feature's popup: up to ``budget.per_feature`` thumbnails as
    ``<img>`` with data URIs, captioned with the date taken, and "另有 N 张照片" for the
    others.

    ``thumbnails``: the feature's photos, oldest first — mappings (or rows) with
    ``thumbnail`` (JPEG bytes) and optionally ``taken_at`` and ``file_name``.  ``budget``
    (default: a fresh one, for a single popup) is shared by the popups of one map.
    Empty for no photos.
    """
    photos = list(thumbnails)
    if not photos:
        return ""
    budget = PopupBudget() if budget is None else budget
    shown = []
    for photo in photos:
        data = _field(photo, "thumbnail")
        if len(shown) >= budget.per_feature or not data or not budget.take(len(data)):
            continue
        when = str(_field(photo, "taken_at") or "")[:10]
        title = html.escape(str(_field(photo, "file_name") or ""), quote=True)
        uri = "data:image/jpeg;base64," + base64.b64encode(bytes(data)).decode("ascii")
        shown.append(f'<figure style="margin:0 4px 4px 0;display:inline-block">'
                     f'<img src="{uri}" alt="{title}" title="{title}" '
                     f'style="max-width:96px;max-height:96px;display:block">'
                     f'<figcaption style="font-size:11px;color:#555">{html.escape(when)}'
                     f"</figcaption></figure>")
    rest = len(photos) - len(shown)
    head = "现场照片" if lang == "zh" else "Photos"
    more = ""
    if rest:
        more = (f'<div class="ecomap-photos-more">另有 {rest} 张照片</div>' if lang == "zh"
                else f'<div class="ecomap-photos-more">{rest} more photo{"s" * (rest > 1)}</div>')
    return (f'<div class="ecomap-photos"><b>{head}</b> ({len(photos)})<br>'
            f'{"".join(shown)}{more}</div>')
