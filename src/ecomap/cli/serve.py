"""``ecomap serve`` (the web service) and ``ecomap user`` (its accounts)."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.i18n import tr

users_opt = click.option(
    "--users", "users", default=None, metavar="FILE",
    help="Accounts file of the web service. Default: $ECOMAP_USERS, else beside the store "
         "(ecomap.gpkg → ecomap.users.sqlite).")


def _accounts(store, users):
    from ecomap.settings import Settings
    from ecomap.web.accounts import Accounts

    s = Settings.from_env(store=store, users=users)
    return Accounts(s.users_path)


def _township(store, value: str) -> str:
    """The official township name ``value`` stands for, in the store's townships."""
    from ecomap.settings import Settings
    from ecomap.store import open_store
    from ecomap.townnames import official_township

    with open_store(Settings.from_env(store=store).store) as st:
        return official_township(value, st.townships()["name"])


@click.command("serve", short_help="Run the web service: upload and check plot files, maps "
                                   "and tables.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface of the intranet).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log every request (uvicorn's access log).")
@click.option("--forwarded-allow-ips", "forwarded", default=None, metavar="IPS",
              help="Addresses of the reverse proxies in front (comma-separated, e.g. "
                   "127.0.0.1): only from these are X-Forwarded-For/-Proto believed. "
                   "Default: none — the address that connects is the client's.")
@_options.store
@users_opt
@_options.lang
def serve_cmd(host, port, access_log, forwarded, store, users, lang):
    """Run the web service: upload and check plot files, maps and tables by township.

    Create the first account with 'ecomap user add NAME --role admin'.

    \b
    Examples:
      ecomap serve
      ecomap serve --host 0.0.0.0 --port 8080 --store /data/dayu.gpkg
    """
    import uvicorn

    from ecomap.settings import Settings
    from ecomap.store import open_store
    from ecomap.web import create_app

    s = Settings.from_env(store=store, users=users, lang=lang)
    open_store(s.store).close()  # a missing or foreign store is said now, not per request
    # A long-running server loads the map stack now, so that the first page a user
    # opens does not wait for it (the command line itself loads it only when needed).
    import ecomap.api
    import ecomap.maps  # noqa: F401
    app = create_app(s)
    if not app.state.accounts.list():
        click.secho(str(tr("{path} 中还没有账号: 请用 'ecomap user add 账号名 --role admin' "
                           "创建一个", "no accounts yet in {path}: create one with "
                           "'ecomap user add NAME --role admin'", path=s.users_path)),
                    err=True, fg="yellow")
    click.echo(tr("ecomap: 正在提供 {store} 的服务, 地址 http://{host}:{port}/ (按 Ctrl+C 停止)",
                  "ecomap: serving {store} on http://{host}:{port}/ (Ctrl+C stops)",
                  store=s.store, host=host, port=port))
    uvicorn.run(app, **uvicorn_options(host, port, forwarded), log_level="info",
                access_log=access_log)


def uvicorn_options(host: str, port: int, forwarded: str | None = None) -> dict:
    """How uvicorn listens.  Forwarded headers are off unless proxies are named: uvicorn
    would otherwise believe X-Forwarded-For from loopback, so any local program could
    choose the address that the sign-in limiter counts."""
    forwarded = ",".join(p.strip() for p in (forwarded or "").split(",") if p.strip())
    return {"host": host, "port": port, "proxy_headers": bool(forwarded),
            "forwarded_allow_ips": forwarded or None}


@click.group("user", short_help="Accounts of the web service.")
def user_group():
    """Accounts of the web service: add, list, set a role or password, unlock, sign
    out everywhere, remove."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="viewer",
              show_default=True, help="viewer reads; editor uploads and rolls back own "
                                      "batches; admin manages accounts and any batch.")
@click.option("--township", default=None, metavar="NAME",
              help="Bind the account to a township: it sees the county but updates "
                   "patches, uploads photos and plots only within that township.")
@click.password_option(help="The password (asked when not given; at least 8 characters).")
@_options.store
@users_opt
def user_add(name, role, township, password, store, users):
    """Create the account NAME.

    \b
    Examples:
      ecomap user add zhangsan --role editor
      ecomap user add lisi --role editor --township 南安镇
    """
    town = _township(store, township) if township else None
    user = _accounts(store, users).add(name, password, role, town)
    click.echo(str(tr("已创建账号 {name!r}, 角色 {role}",
                      "account {name!r} created with role {role}",
                      name=user.name, role=user.role))
               + (str(tr(", 限定乡镇 {town}", ", bound to {town}", town=town)) if town else ""))


@user_group.command("list")
@_options.store
@users_opt
def user_list(store, users):
    """List the accounts and their roles.

    \b
    Example:
      ecomap user list --store /data/dayu.gpkg
    """
    rows = _accounts(store, users).list()
    if not rows:
        click.echo(tr("(没有账号)", "(no accounts)"))
    for r in rows:
        click.echo(f"{r['name']}\t{r['role']}\t{r['created_at']}\t{r['township'] or ''}")


@user_group.command("township")
@click.argument("name")
@click.argument("township", required=False)
@click.option("--none", "unbind", is_flag=True,
              help="Unbind the account: it may change the whole county again.")
@_options.store
@users_opt
def user_township(name, township, unbind, store, users):
    """Bind the account NAME to TOWNSHIP (or unbind it with --none).

    \b
    Examples:
      ecomap user township lisi 南安镇
      ecomap user township lisi --none
    """
    from ecomap.errors import InputError

    if bool(township) == unbind:
        raise InputError(tr("请给出一个乡镇, 或 --none 解除绑定",
                            "give a township, or --none to unbind"))
    town = None if unbind else _township(store, township)
    _accounts(store, users).set_township(name, town)
    click.echo(tr("账号 {name!r} 已限定在 {town}", "account {name!r} is bound to {town}",
                  name=name, town=town) if town else
               tr("账号 {name!r} 不再限定乡镇", "account {name!r} is no longer bound to a "
                  "township", name=name))


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "editor", "admin"]))
@_options.store
@users_opt
def user_role(name, role, store, users):
    """Give the account NAME another role.

    \b
    Example:
      ecomap user role zhangsan admin
    """
    _accounts(store, users).set_role(name, role)
    click.echo(tr("账号 {name!r} 的角色已改为 {role}", "account {name!r} now has role {role}",
                  name=name, role=role))


@user_group.command("password")
@click.argument("name")
@click.password_option(help="The new password (asked when not given).")
@_options.store
@users_opt
def user_password(name, password, store, users):
    """Set a new password for NAME (signs out its open sessions).

    \b
    Example:
      ecomap user password zhangsan
    """
    _accounts(store, users).set_password(name, password)
    click.echo(tr("账号 {name!r} 的密码已修改", "password of {name!r} changed", name=name))


@user_group.command("unlock", short_help="Forget the failed sign-ins of NAME.")
@click.argument("name")
@_options.store
@users_opt
def user_unlock(name, store, users):
    """Forget the failed sign-ins of NAME, so that it may sign in again at once.

    \b
    Example:
      ecomap user unlock zhangsan
    """
    n = _accounts(store, users).unlock(name)
    click.echo(tr("账号 {name!r} 已解锁 (清除了 {n} 次失败登录)",
                  "account {name!r} unlocked ({n} failed sign-ins forgotten)", name=name, n=n))


@user_group.command("logout", short_help="Sign NAME out everywhere.")
@click.argument("name")
@_options.store
@users_opt
def user_logout(name, store, users):
    """Sign NAME out everywhere: every browser session and API token ends.

    \b
    Example:
      ecomap user logout zhangsan
    """
    n = _accounts(store, users).close_all_sessions(name)
    click.echo(tr("账号 {name!r} 已在所有地方退出登录 (结束了 {n} 个会话)",
                  "account {name!r} signed out everywhere ({n} sessions ended)",
                  name=name, n=n))


@user_group.command("remove")
@click.argument("name")
@_options.store
@users_opt
def user_remove(name, store, users):
    """Remove the account NAME (its stored batches stay).

    \b
    Example:
      ecomap user remove zhangsan
    """
    _accounts(store, users).remove(name)
    click.echo(tr("账号 {name!r} 已删除", "account {name!r} removed", name=name))


COMMANDS = [serve_cmd, user_group]
