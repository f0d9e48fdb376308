"""The ``ecomap`` command line: one module per command, errors translated here only.

Start-up loads click and ecomap's own light modules only: every command imports what
it needs (pandas, the geo stack, folium …) inside its function, so ``ecomap --help``
and a command's ``--help`` answer at once.
"""

from __future__ import annotations

import logging
import sys
import traceback

import click

from ecomap.cli import _options
from ecomap.errors import EcomapError, ValidationError
from ecomap.i18n import render, use_lang

__all__ = ["INTERNAL_ERROR", "USAGE_ERROR", "cli", "main"]


#: Exit code of an internal error (a bug); 0–2 are the outcomes of a command: 0 done,
#: 1 done with warnings, 2 input rejected (an :class:`EcomapError`).
INTERNAL_ERROR = 3
#: Exit code of a command line click cannot use (unknown option, missing argument …):
#: EX_USAGE of BSD's sysexits.h, apart from 2, which says that the *input* was rejected.
USAGE_ERROR = 64

_EPILOG = """\b
Global options (--store, --lang, -v/-q) may also follow the command:
  ecomap --store plots.gpkg rollback 2
  ecomap rollback 2 --store plots.gpkg

\b
Exit codes:
  0   done
  1   done, with warnings (e.g. features repaired or left out)
  2   input rejected: nothing was changed (the message says why)
  3   internal error: a bug in ecomap (-v shows the traceback)
  64  the command line itself is wrong (unknown option, missing argument)
"""


class _Group(click.Group):
    """Turns :class:`EcomapError` into a message on stderr and an exit code — in one place.

    Any other exception is a bug in ecomap (or in a library it uses), not a problem with
    the user's file: it is shown as one line saying so, exit code 3, with the
    traceback only under ``-v``.  Usage errors leave with :data:`USAGE_ERROR`.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            exc.exit_code = USAGE_ERROR
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EcomapError as exc:
            # In the language of the command (its --lang, the group's, $ECOMAP_LANG).
            with use_lang(ctx.meta.get(_options.LANG_KEY)):
                text = str(exc)
                click.secho(f"ecomap: {text}", err=True, fg="red")
                if isinstance(exc, ValidationError) and not text.count("\n"):
                    for p in exc.problems:
                        message = p.get("message", p) if isinstance(p, dict) else \
                            getattr(p, "message", p)
                        click.echo(f"  - {render(message)}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            exc.exit_code = USAGE_ERROR
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place a bug is reported as such
            if _options.verbosity_level(ctx) > 0:
                click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            detail = " ".join(str(exc).split())[:500]
            click.secho(f"ecomap: 内部错误 (internal error, a bug — please report it with this "
                        f"file): {type(exc).__name__}: {detail}", err=True, fg="red")
            ctx.exit(INTERNAL_ERROR)


def _show_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        import ecomap

        click.echo(f"ecomap, version {ecomap.__version__}")
        ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=_EPILOG)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version, help="Show the version and exit.")
@_options.store
@_options.verbosity
@_options.lang
@click.pass_context
def cli(ctx: click.Context, store: str | None, lang: str) -> None:
    """ecomap: restoration plots and water-quality sites, by township, on offline maps.

    The store is ecomap.gpkg in the working directory unless --store or ECOMAP_STORE
    says otherwise.  'ecomap demo' builds it from the embedded Dayu County data.
    Messages are in Simplified Chinese unless --lang en (here or on the command) or
    ECOMAP_LANG=en says otherwise.  Tables, CSV and JSON go to standard output unless
    -o FILE is given.
    """
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=_options.log_level(ctx),
                            format="%(levelname)s %(name)s: %(message)s")
    elif _options.verbosity_level(ctx):
        _options.apply_log_level(ctx)
    ctx.ensure_object(dict)


def _register() -> None:
    from ecomap.cli import (
        batches,
        demo,
        ingest,
        map,
        patches,
        photos,
        raster,
        serve,
        store,
        summary,
        targets,
        water,
    )

    for module in (demo, summary, targets, patches, ingest, map, batches, water, raster, store,
                   serve, photos):
        for command in module.COMMANDS:
            _options.add_global_options(command)
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ecomap`` script."""
    cli.main(args=argv, prog_name="ecomap")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
