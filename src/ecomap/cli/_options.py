"""Options shared by several commands, defined once."""

from __future__ import annotations

import click

from ecomap.settings import Settings


def verbosity(f):
    f = click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")(f)
    return click.option("-q", "--quiet", count=True, help="Less log output.")(f)


store = click.option(
    "--store", "store", default=None, metavar="PATH|URL",
    help="The store: a .gpkg file or a postgresql://… URL. Default: $ECOMAP_STORE, "
         "else ./ecomap.gpkg.")
LANG_KEY = "ecomap.lang"


def _set_lang(ctx: click.Context, _param, value: str | None) -> str:
    """``--lang``: messages, reports and maps of the command in that language.

    Without it the language in force stays (``ecomap --lang``, else $ECOMAP_LANG, else
    zh).  The choice is kept in ``ctx.meta`` (shared by the group and the command), so
    the group renders an error raised by the command in it too.
    """
    from ecomap.i18n import current_lang, use_lang

    if value:
        ctx.meta[LANG_KEY] = value
        ctx.with_resource(use_lang(value))
    return value or current_lang()


lang = click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                    callback=_set_lang, expose_value=True, is_eager=True,
                    help="Language of messages, reports, maps and tables (default zh, or "
                         "$ECOMAP_LANG).")
year = click.option("--year", type=int, default=None,
                    help="Year of the work (default: the latest year in the store).")
output = click.option("-o", "--output", "output", default=None, metavar="FILE",
                      help="Write to FILE instead of the default place.")


def settings(store_opt: str | None = None, lang_opt: str | None = None) -> Settings:
    """Settings from the environment, overridden by the command's options."""
    return Settings.from_env(store=store_opt, lang=lang_opt)


def open_settings_store(s: Settings):
    from ecomap.store import open_store

    return open_store(s.store)
