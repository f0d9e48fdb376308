"""``ecomap serve`` (the web service) and ``ecomap user`` (its accounts)."""

from __future__ import annotations

import click

from ecomap.cli import _options

users_opt = click.option(
    "--users", "users", default=None, metavar="FILE",
    help="Accounts file of the web service. Default: $ECOMAP_USERS, else beside the store "
         "(ecomap.gpkg → ecomap.users.sqlite).")


def _accounts(store, users):
    from ecomap.settings import Settings
    from ecomap.web.accounts import Accounts

    s = Settings.from_env(store=store, users=users)
    return Accounts(s.users_path)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface of the intranet).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log every request (uvicorn's access log).")
@_options.store
@users_opt
@_options.lang
def serve_cmd(host, port, access_log, store, users, lang):
    """Run the web service: upload and check plot files, maps and tables by township.

    Create the first account with 'ecomap user add NAME --role admin'.
    """
    import uvicorn

    from ecomap.settings import Settings
    from ecomap.store import open_store
    from ecomap.web import create_app

    s = Settings.from_env(store=store, users=users, lang=lang)
    open_store(s.store).close()  # a missing or foreign store is said now, not per request
    app = create_app(s)
    if not app.state.accounts.list():
        click.secho(f"no accounts yet in {s.users_path}: create one with "
                    "'ecomap user add NAME --role admin'", err=True, fg="yellow")
    click.echo(f"ecomap: serving {s.store} on http://{host}:{port}/ (Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)


@click.group("user")
def user_group():
    """Accounts of the web service: add, list, set a role or password, remove."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="viewer",
              show_default=True, help="viewer reads; editor uploads and rolls back own "
                                      "batches; admin manages accounts and any batch.")
@click.password_option(help="The password (asked when not given; at least 8 characters).")
@_options.store
@users_opt
def user_add(name, role, password, store, users):
    """Create the account NAME."""
    user = _accounts(store, users).add(name, password, role)
    click.echo(f"account {user.name!r} created with role {user.role}")


@user_group.command("list")
@_options.store
@users_opt
def user_list(store, users):
    """List the accounts and their roles."""
    rows = _accounts(store, users).list()
    if not rows:
        click.echo("(no accounts)")
    for r in rows:
        click.echo(f"{r['name']}\t{r['role']}\t{r['created_at']}")


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "editor", "admin"]))
@_options.store
@users_opt
def user_role(name, role, store, users):
    """Give the account NAME another role."""
    _accounts(store, users).set_role(name, role)
    click.echo(f"account {name!r} now has role {role}")


@user_group.command("password")
@click.argument("name")
@click.password_option(help="The new password (asked when not given).")
@_options.store
@users_opt
def user_password(name, password, store, users):
    """Set a new password for NAME (signs out its open sessions)."""
    _accounts(store, users).set_password(name, password)
    click.echo(f"password of {name!r} changed")


@user_group.command("remove")
@click.argument("name")
@_options.store
@users_opt
def user_remove(name, store, users):
    """Remove the account NAME (its stored batches stay)."""
    _accounts(store, users).remove(name)
    click.echo(f"account {name!r} removed")


COMMANDS = [serve_cmd, user_group]
