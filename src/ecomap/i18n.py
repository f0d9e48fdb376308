"""Messages people read, in Simplified Chinese (default) and English.

A message is written once where it is raised, in both languages, and rendered when it
is shown — in the language of the command (``--lang``/``ECOMAP_LANG``) or of the web
request::

    raise InputError(tr("{file}: 文件被截断; 请重新发送", "{file}: the file is truncated; "
                        "send it again", file=name))

``str()`` of a :class:`Text` (and so of an exception carrying one) renders it in the
current language; :func:`use_lang` sets that language for a block (the CLI for a
command, the web layer for a request).  Codes and identifiers stay English.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["LANGS", "Text", "current_lang", "message_of", "render", "tr", "use_lang"]

LANGS = ("zh", "en")
_lang: ContextVar[str | None] = ContextVar("ecomap_lang", default=None)


def current_lang() -> str:
    """The language in force: :func:`use_lang`, else ``$ECOMAP_LANG``, else ``zh``."""
    lang = _lang.get() or os.environ.get("ECOMAP_LANG") or "zh"
    return lang if lang in LANGS else "zh"


@contextmanager
def use_lang(lang: str | None) -> Iterator[str]:
    """Render messages in ``lang`` inside the block (None keeps the current one)."""
    token = _lang.set(lang if lang in LANGS else None) if lang else None
    try:
        yield current_lang()
    finally:
        if token is not None:
            _lang.reset(token)


class Text:
    """A message in both languages with its parameters, rendered when shown."""

    __slots__ = ("en", "params", "zh")

    def __init__(self, zh: str, en: str, /, **params) -> None:
        self.zh, self.en, self.params = zh, en, params

    def render(self, lang: str | None = None) -> str:
        lang = lang or current_lang()
        template = self.zh if lang == "zh" else self.en
        params = {k: (v.render(lang) if isinstance(v, Text) else v)
                  for k, v in self.params.items()}
        return template.format(**params) if params else template

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.render('en')!r})"

    def __eq__(self, other) -> bool:
        if isinstance(other, Text):
            return (self.zh, self.en, self.params) == (other.zh, other.en, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.zh, self.en))

    def __contains__(self, part: str) -> bool:
        return part in self.render("zh") or part in self.render("en")


def tr(zh: str, en: str, /, **params) -> Text:
    """A message in Chinese and English; ``{name}`` placeholders filled from ``params``."""
    return Text(zh, en, **params)


def render(message, lang: str | None = None) -> str:
    """A message (:class:`Text` or plain string) as text in ``lang`` (default: current)."""
    return message.render(lang) if isinstance(message, Text) else str(message)


def message_of(exc: BaseException) -> Text | str:
    """The message an exception carries, still unrendered when it is a :class:`Text`."""
    if len(exc.args) == 1 and isinstance(exc.args[0], Text):
        return exc.args[0]
    return str(exc)
