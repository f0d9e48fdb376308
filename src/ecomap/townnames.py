"""Township names as clerks type them, matched to the county's official names.

A 乡镇 cell may lack its 镇/乡 suffix, carry stray or full-width spaces, the county's
name in front (大余县黄龙镇), 乡 for 镇, traditional characters (黃龍鎮) or a note in
brackets (黄龙镇（原xx村）, 黄龙镇(补)).  :func:`match_township` sees through all of these
and returns the official name, or None when the value names no township of the county.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["clean_name", "match_township", "official_township"]

# A note in brackets, after NFKC folded full-width brackets to ASCII ones.
_NOTE = re.compile(r"[(\[【〔［][^()\[\]【】〔〕［］]*[)\]】〕］]")
_SPACE = re.compile(r"\s+")
# Suffixes of township-level names, longest first.
_SUFFIXES = ("街道办事处", "民族乡", "办事处", "街道", "镇", "乡")
# Suffixes of county-level names, to strip "大余" as well as "大余县".
_COUNTY_SUFFIXES = ("自治县", "县", "市", "区")


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=4096)
def clean_name(value: str) -> str:
    """A name in simplified characters, without notes in brackets or any spaces."""
    text = unicodedata.normalize("NFKC", str(value))
    text = _t2s().convert(text)
    prev = None
    while prev != text:  # nested or repeated notes
        prev, text = text, _NOTE.sub("", text)
    return _SPACE.sub("", text)


def _stem(name: str, suffixes=_SUFFIXES) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _prefixes(county: str | None) -> list[str]:
    if not county:
        return []
    full = clean_name(county)
    stem = _stem(full, _COUNTY_SUFFIXES)
    return [p for p in dict.fromkeys((full, stem)) if p]


def match_township(value, names: Iterable[str], county: str | None = None) -> str | None:
    """The official township name ``value`` stands for, or None.

    Parameters
    ----------
    value
        The 乡镇 cell as typed.
    names
        The county's township names (``Store.townships()["name"]``).
    county
        The county's name (大余县), dropped when a value starts with it.
    """
    if value is None:
        return None
    official = [str(n) for n in names if n is not None and str(n).strip()]
    text = clean_name(value)
    if not text:
        return None
    candidates = [text] + [text[len(p):] for p in _prefixes(county)
                           if text.startswith(p) and len(text) > len(p)]
    by_clean = {clean_name(n): n for n in official}
    for c in candidates:  # exactly, once cleaned
        if c in by_clean:
            return by_clean[c]
    stems: dict[str, list[str]] = {}
    for n in official:
        stems.setdefault(_stem(clean_name(n)), []).append(n)
    for c in candidates:  # suffix left out, or 乡 for 镇
        hit = stems.get(_stem(c), [])
        if len(hit) == 1:
            return hit[0]
    for c in candidates:  # a village written after the township: 黄龙镇石门村
        longest = sorted((n for n in by_clean if c.startswith(n) and len(n) >= 2),
                         key=len, reverse=True)
        if longest:
            return by_clean[longest[0]]
    return None


def official_township(value, names: Iterable[str]) -> str:
    """The official township name ``value`` stands for among ``names``; an
    :class:`~ecomap.errors.InputError` listing the names when it is none of them."""
    from ecomap.errors import InputError
    from ecomap.i18n import tr

    names = [str(n) for n in names]
    official = match_township(value, names)
    if official is None:
        raise InputError(tr("乡镇 {value!r} 不在库中的乡镇里; 可选: {names}",
                            "township {value!r} is not one of the store's townships; use "
                            "one of {names}", value=value, names="、".join(names)))
    return official
