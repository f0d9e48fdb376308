"""Options shared by several commands, defined once.

The global options ``--store``, ``--lang`` and ``-v/-q`` are accepted before the
command (``ecomap --store X rollback 2``) and after it (``ecomap rollback 2 --store X``);
what the group is given is kept in ``ctx.meta``, which the group and its commands share,
and the command's own option wins.
"""

from __future__ import annotations

import logging

import click

from ecomap.settings import Settings

LANG_KEY = "ecomap.lang"
STORE_KEY = "ecomap.store"
VERBOSITY_KEY = "ecomap.verbosity"


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """``-v`` / ``-q`` (counted, before or after the command) set the log level."""
    if value:
        sign = 1 if param.name == "verbose" else -1
        ctx.meta[VERBOSITY_KEY] = verbosity_level(ctx) + sign * value
        apply_log_level(ctx)
    return value


def apply_log_level(ctx: click.Context) -> None:
    """Set the root logger's level for this run of the command line, and put the
    previous one back when the run ends (the process may go on: tests, notebooks)."""
    root = logging.getLogger()
    if "ecomap.log_level_before" not in ctx.meta:
        ctx.meta["ecomap.log_level_before"] = before = root.level
        ctx.find_root().call_on_close(lambda: root.setLevel(before))
    root.setLevel(log_level(ctx))


def verbosity_level(ctx: click.Context) -> int:
    """How many ``-v`` beyond ``-q`` were given, on the group and the command."""
    return ctx.meta.get(VERBOSITY_KEY, 0)


def log_level(ctx: click.Context) -> int:
    """The log level that ``-v`` / ``-q`` ask for (WARNING without either)."""
    return max(logging.DEBUG, min(logging.CRITICAL,
                                  logging.WARNING - 10 * verbosity_level(ctx)))


_VERBOSITY = [
    (("-v", "--verbose"), {"help": "More log output (-vv for debug; an internal error "
                                   "with its traceback)."}),
    (("-q", "--quiet"), {"help": "Less log output."}),
]


def _verbosity_options() -> list[click.Option]:
    return [click.Option(list(decls), count=True, callback=_set_verbosity, expose_value=False,
                         **kw) for decls, kw in _VERBOSITY]


def verbosity(f):
    """``-v/--verbose`` and ``-q/--quiet`` (see :func:`log_level`)."""
    for decls, kw in reversed(_VERBOSITY):
        f = click.option(*decls, count=True, callback=_set_verbosity, expose_value=False,
                         **kw)(f)
    return f


def _set_store(ctx: click.Context, _param, value: str | None) -> str | None:
    """``--store`` of the command, else the one given before the command."""
    if value is not None:
        ctx.meta[STORE_KEY] = value
        return value
    return ctx.meta.get(STORE_KEY)


store = click.option(
    "--store", "store", default=None, metavar="PATH|URL", callback=_set_store,
    help="The store: a .gpkg file or a postgresql://… URL. Default: $ECOMAP_STORE, "
         "else ./ecomap.gpkg.")


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
table_output = click.option(
    "-o", "--output", "output", default=None, metavar="FILE",
    help="Write the table to FILE (.csv, .xlsx or .json) instead of standard output.")


def table_format(default: str = "table"):
    """``--format table|csv|xlsx|json`` of a command that prints a table; without it the
    suffix of -o FILE chooses, else ``default`` (see :mod:`ecomap.cli._output`)."""
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "xlsx", "json"]),
                        default=None, help=f"Output format (default: from the suffix of -o "
                                           f"FILE, else {default}).")


def add_global_options(command: click.Command) -> None:
    """Give ``command`` (and every command of a group) the global ``--lang`` and
    ``-v/-q`` when it does not declare them, so that they are accepted after it too."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub)
    names = {p.name for p in command.params}
    if "lang" not in names:
        command.params.append(click.Option(
            ["--lang"], type=click.Choice(["zh", "en"]), default=None, callback=_set_lang,
            expose_value=False, is_eager=True,
            help="Language of messages (default zh, or $ECOMAP_LANG)."))
    if "verbose" not in names:
        command.params.extend(_verbosity_options())


def settings(store_opt: str | None = None, lang_opt: str | None = None) -> Settings:
    """Settings from the environment, overridden by the command's options."""
    return Settings.from_env(store=store_opt, lang=lang_opt)


def open_settings_store(s: Settings):
    from ecomap.store import open_store

    return open_store(s.store)
