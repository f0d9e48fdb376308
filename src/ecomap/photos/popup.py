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

__all__ = ["MAP_BYTES", "PER_FEATURE", "PopupBudget", "photo_popup_html", "photo_popups"]

#: Thumbnails shown per feature, and bytes of thumbnails (before base64) per map.
PER_FEATURE = 3
MAP_BYTES = 2_000_000
_SHOWN_PX = 96  # the long side of a thumbnail in a popup, in CSS pixels


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


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame marker, or None."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 7:i + 9], "big")
            return (w, h) if w and h else None
        i += 2 + length
    return None


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    w, h = size
    scale = box / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


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
    shown = []  # side by side (at most 3 × 104 px: within the popup's 380 px)
    for photo in photos:
        data = _field(photo, "thumbnail")
        if len(shown) >= budget.per_feature or not data or not budget.take(len(data)):
            continue
        when = str(_field(photo, "taken_at") or "")[:10]
        title = html.escape(str(_field(photo, "file_name") or ""), quote=True)
        uri = "data:image/jpeg;base64," + base64.b64encode(bytes(data)).decode("ascii")
        # The size is known before the image loads, so the popup is laid out right.
        w, h = _fit(_jpeg_size(data) or (4, 3), _SHOWN_PX)
        shown.append(f'<figure style="margin:0 6px 4px 0;display:inline-block;'
                     f'vertical-align:top">'
                     f'<img src="{uri}" alt="{title}" title="{title}" width="{w}" '
                     f'height="{h}" style="display:block;border:1px solid #ccc">'
                     f'<figcaption style="font-size:11px;color:#555">{html.escape(when)}'
                     f"</figcaption></figure>")
    rest = len(photos) - len(shown)
    head = "现场照片" if lang == "zh" else "Photos"
    more = ""
    if rest:
        text = (f"另有 {rest} 张照片" if lang == "zh"
                else f"{rest} more photo{'s' * (rest > 1)}")
        more = f'<div class="ecomap-photos-more" style="color:#555">{text}</div>'
    return (f'<div class="ecomap-popup ecomap-photos" style="margin-top:6px">'
            f'<div style="color:#555;margin-bottom:3px">{head} ({len(photos)})</div>'
            f'<div style="white-space:nowrap">{"".join(shown)}</div>{more}</div>')


def photo_popups(keys, photos, lang: str = "zh", *, kind: str = "plot",
                 budget: PopupBudget | None = None) -> list[str]:
    """The photos part of the popup of each feature of one map ("" for none).

    ``keys``: the features' target keys, in the map's order (plot fids, or patch IDs
    with ``kind="patch"``); ``photos``: :meth:`Store.photos` with ``thumbnails=True``.
    One ``budget`` (default: :data:`PER_FEATURE` per feature, :data:`MAP_BYTES` in
    all) is spent in the order of ``keys``.
    """
    budget = PopupBudget() if budget is None else budget
    mine = photos[photos["target_kind"] == kind]
    by_key = {str(key): group.to_dict(orient="records")
              for key, group in mine.groupby("target_key", sort=False)}
    return [photo_popup_html(by_key.get(_key_text(k), []), lang, budget=budget) for k in keys]


def _key_text(key) -> str:
    """A target key as stored: plot fids as integers in text."""
    try:
        return str(int(key)) if float(key) == int(key) else str(key)
    except (TypeError, ValueError):
        return str(key)
