"""The ``ecomap`` command line: one module per command, errors translated here only."""

from __future__ import annotations

import logging
import sys
import traceback

import click

from ecomap import __version__
from ecomap.cli import _options
from ecomap.errors import EcomapError, ValidationError
from ecomap.i18n import render, use_lang

__all__ = ["cli", "main"]


#: Exit code of an internal error (a bug); 0–2 are the outcomes of a command.
INTERNAL_ERROR = 3


class _Group(click.Group):
    """Turns :class:`EcomapError` into a message on stderr and an exit code — in one place.

    Any other exception is a bug in ecomap (or in a library it uses), not a problem with
    the user's file: it is shown as one line saying so, exit code 3, with the
    traceback only under ``-v``.
    """

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
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place a bug is reported as such
            if ctx.params.get("verbose"):
                click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            detail = " ".join(str(exc).split())[:500]
            click.secho(f"ecomap: 内部错误 (internal error, a bug — please report it with this "
                        f"file): {type(exc).__name__}: {detail}", err=True, fg="red")
            ctx.exit(INTERNAL_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecomap")
@_options.verbosity
@_options.lang
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, lang: str) -> None:
    """ecomap: restoration plots and water-quality sites, by township, on offline maps.

    The store is ecomap.gpkg in the working directory unless --store or ECOMAP_STORE
    says otherwise.  'ecomap demo' builds it from the embedded Dayu County data.
    Messages are in Simplified Chinese unless --lang en (here or on the command) or
    ECOMAP_LANG=en says otherwise.
    """
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(logging.DEBUG, min(logging.CRITICAL, level)),
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(dict)


def _register() -> None:
    from ecomap.cli import batches, demo, ingest, map, raster, serve, store, summary, water

    for module in (demo, summary, ingest, map, batches, water, raster, store, serve):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ecomap`` script."""
    cli.main(args=argv, prog_name="ecomap")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
