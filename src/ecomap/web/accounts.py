"""Accounts, roles and sessions of the web service, in a small SQLite file of their own.

Accounts are not geodata: they live beside the store (``ecomap.users.sqlite`` next to
``ecomap.gpkg``), not in it, so the GeoPackage stays what QGIS expects and a PostGIS
store can share one accounts file.  Passwords are hashed with Argon2id
(``argon2-cffi``); session tokens are random and only their SHA-256 is stored, so a
copy of the file signs nobody in.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import secrets
import sqlite3
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecomap.errors import AuthError, InputError, NotFoundError, TooManyAttempts
from ecomap.i18n import tr

__all__ = ["ROLES", "Accounts", "LoginLimiter", "User"]

#: Roles, each allowed what the ones before it are: viewer reads; editor uploads,
#: confirms and rolls back own batches; admin manages accounts and any batch.
ROLES = ("viewer", "editor", "admin")
MIN_PASSWORD = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES users(name)
    ON DELETE CASCADE, csrf TEXT NOT NULL, kind TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS login_failures (
    name_key TEXT NOT NULL, client TEXT NOT NULL, device TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_name ON login_failures (name_key, at);
CREATE TABLE IF NOT EXISTS known_signins (
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, kind TEXT NOT NULL,
    value TEXT NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (user_name, kind, value));
"""


@dataclass(frozen=True)
class User:
    """A signed-in account."""

    name: str
    role: str
    #: The township an editor is bound to (None: the whole county).
    township: str | None = None

    def can(self, role: str) -> bool:
        """Whether this account has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def may_edit(self, township: str | None) -> bool:
        """Whether this account may change what belongs to ``township``: admins and
        editors not bound to a township anything, a bound editor its own township's."""
        if not self.can("editor"):
            return False
        return self.can("admin") or self.township is None or township == self.township


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    kind: str  # "browser" (cookie, CSRF-checked) or "api" (bearer token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_digest(token: str | None) -> str:
    """What is stored of a device cookie ("" for none)."""
    return _digest(token) if token else ""


def name_key(name: str) -> str:
    """An account name as failed sign-ins are counted (case and spacing ignored)."""
    return unicodedata.normalize("NFC", str(name)).strip().casefold()


def check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", str(name)).strip()
    if not 1 <= len(name) <= 64 or any(unicodedata.category(c).startswith("C") or
                                       c in "/\\" for c in name):
        raise InputError(tr("账号名 {name!r}: 请用 1 到 64 个字母、数字或汉字, "
                            "不要含斜杠或控制字符",
                            "account name {name!r}: use 1 to 64 letters, digits or Chinese "
                            "characters, without slashes or control characters", name=name))
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(tr("角色 {role!r} 不存在; 可选: {choices}",
                            "role {role!r} does not exist; use one of {choices}", role=role,
                            choices=", ".join(ROLES)))
    return role


class Accounts:
    """The accounts file: users with hashed passwords, and open sessions."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._hasher = PasswordHasher()
        # Verified against when a name is unknown, so that timing does not tell.
        self._dummy = self._hasher.hash(secrets.token_hex(16))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as con:
            con.executescript(_SCHEMA)
            columns = [r[1] for r in con.execute("PRAGMA table_info(sessions)")]
            if "device" not in columns:  # files written before devices were known
                con.execute("ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT ''")
            columns = [r[1] for r in con.execute("PRAGMA table_info(users)")]
            if "township" not in columns:  # files written before township accounts
                con.execute("ALTER TABLE users ADD COLUMN township TEXT")

    @contextmanager
    def _db(self):
        """One short connection and transaction per call: callers run in many threads."""
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            with con:  # commits, or rolls back on error
                yield con
        finally:
            con.close()

    def _run(self, sql: str, params=()) -> list[tuple]:
        with self._db() as con:
            return con.execute(sql, params).fetchall()

    # --- accounts -----------------------------------------------------------------
    def add(self, name: str, password: str, role: str = "viewer",
            township: str | None = None) -> User:
        """A new account; ``township`` (an official township name, checked by the
        caller against the store) binds it to that township."""
        name, role = check_name(name), check_role(role)
        if len(password) < MIN_PASSWORD:
            raise InputError(tr("账号 {name!r} 的密码太短: 至少要 {n} 个字符",
                                "the password of {name!r} is too short: use at least "
                                "{n} characters", name=name, n=MIN_PASSWORD))
        try:
            self._run("INSERT INTO users (name, role, password_hash, created_at, township) "
                      "VALUES (?, ?, ?, ?, ?)",
                      (name, role, self._hasher.hash(password),
                       _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                       township or None))
        except sqlite3.IntegrityError as exc:
            raise InputError(tr("账号 {name!r} 已存在; 请换一个名字, 或先删除原账号",
                                "account {name!r} exists already; pick another name or "
                                "remove it first", name=name)) from exc
        return User(name, role, township or None)

    def get(self, name: str) -> User:
        rows = self._run("SELECT name, role, township FROM users WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(tr("没有账号 {name!r}; 'ecomap user list' 可列出所有账号",
                                   "no account {name!r}; 'ecomap user list' lists them",
                                   name=name))
        return User(*rows[0])

    def list(self) -> list[dict]:
        rows = self._run("SELECT name, role, created_at, township FROM users ORDER BY name")
        return [{"name": n, "role": r, "created_at": c, "township": t}
                for n, r, c, t in rows]

    def set_role(self, name: str, role: str) -> User:
        user = self.get(name)
        self._run("UPDATE users SET role = ? WHERE name = ?", (check_role(role), name))
        return User(name, role, user.township)

    def set_township(self, name: str, township: str | None) -> User:
        """Bind account ``name`` to ``township`` (None: the whole county again)."""
        user = self.get(name)
        self._run("UPDATE users SET township = ? WHERE name = ?", (township or None, name))
        return User(name, user.role, township or None)

    def set_password(self, name: str, password: str) -> None:
        self.get(name)
        if len(password) < MIN_PASSWORD:
            raise InputError(tr("账号 {name!r} 的密码太短: 至少要 {n} 个字符",
                                "the password of {name!r} is too short: use at least "
                                "{n} characters", name=name, n=MIN_PASSWORD))
        with self._db() as con:
            con.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                        (self._hasher.hash(password), name))
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            # A new password ends the lockout that may have made it necessary.
            con.execute("DELETE FROM login_failures WHERE name_key = ?", (name_key(name),))

    def unlock(self, name: str) -> int:
        """Forget the failed sign-ins of account ``name``; how many there were."""
        self.get(name)
        with self._db() as con:
            return con.execute("DELETE FROM login_failures WHERE name_key = ?",
                               (name_key(name),)).rowcount

    def remove(self, name: str) -> None:
        self.get(name)
        with self._db() as con:
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            con.execute("DELETE FROM users WHERE name = ?", (name,))
            con.execute("DELETE FROM login_failures WHERE name_key = ?", (name_key(name),))

    def authenticate(self, name: str, password: str) -> User:
        """The account when ``password`` is right; :class:`AuthError` otherwise."""
        rows = self._run("SELECT name, role, password_hash, township FROM users "
                         "WHERE name = ?",
                         (unicodedata.normalize("NFC", str(name)).strip(),))
        stored = rows[0][2] if rows else self._dummy
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            rows = []
        if not rows:
            raise AuthError(tr("账号名或密码错误", "wrong account name or password"))
        if self._hasher.check_needs_rehash(stored):
            self._run("UPDATE users SET password_hash = ? WHERE name = ?",
                      (self._hasher.hash(password), rows[0][0]))
        return User(rows[0][0], rows[0][1], rows[0][3])

    # --- sessions -----------------------------------------------------------------
    def open_session(self, user: User, *, hours: float, kind: str = "browser",
                     device: str = "") -> tuple[str, Session]:
        """A new session: its secret token (for the cookie or bearer) and the session.

        A browser session ends the earlier browser sessions of the same account on the
        same device (``device``: :func:`device_digest` of the device cookie): signing in
        again in one browser leaves one valid session there, not two.
        """
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = time.time()
        with self._db() as con:
            con.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            if kind == "browser" and device:
                con.execute("DELETE FROM sessions WHERE user_name = ? AND kind = 'browser' "
                            "AND device = ?", (user.name, device))
            con.execute("INSERT INTO sessions (token_sha256, user_name, csrf, kind, expires, "
                        "device) VALUES (?, ?, ?, ?, ?, ?)",
                        (_digest(token), user.name, csrf, kind, now + hours * 3600, device))
        return token, Session(user, csrf, kind)

    def session(self, token: str | None) -> Session | None:
        """The live session of ``token``, or None."""
        if not token:
            return None
        rows = self._run(
            "SELECT u.name, u.role, s.csrf, s.kind, u.township FROM sessions s JOIN users u "
            "ON u.name = s.user_name WHERE s.token_sha256 = ? AND s.expires > ?",
            (_digest(token), time.time()))
        if not rows:
            return None
        name, role, csrf, kind, township = rows[0]
        return Session(User(name, role, township), csrf, kind)

    def close_session(self, token: str | None) -> None:
        if token:
            self._run("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),))

    def close_all_sessions(self, name: str) -> int:
        """Sign ``name`` out everywhere (browsers and API tokens); how many sessions ended."""
        self.get(name)
        with self._db() as con:
            return con.execute("DELETE FROM sessions WHERE user_name = ?", (name,)).rowcount

    # --- where an account signed in before ------------------------------------------
    def remember(self, user: User, *, client: str, device: str) -> None:
        """A successful sign-in: its address and device (digest) are known from now on."""
        now = time.time()
        with self._db() as con:
            for kind, value in (("address", client), ("device", device)):
                if value:
                    con.execute("INSERT OR REPLACE INTO known_signins VALUES (?, ?, ?, ?)",
                                (user.name, kind, value, now))

    def knows(self, name: str, *, client: str, device: str) -> tuple[bool, bool]:
        """Whether account ``name`` signed in before from this device, from this address."""
        rows = self._run(
            "SELECT kind FROM known_signins WHERE user_name = ? AND "
            "((kind = 'device' AND value = ?) OR (kind = 'address' AND value = ?))",
            (unicodedata.normalize("NFC", str(name)).strip(), device, client))
        kinds = {k for (k,) in rows}
        return "device" in kinds, "address" in kinds


class LoginLimiter:
    """Failed sign-ins, counted in the accounts file (so that ``ecomap user unlock`` and a
    new password clear them, and a restart does not).

    * Per account and sign-in place — the device (its cookie from an earlier successful
      sign-in) when known, else the address: ``attempts`` failures within ``window``
      seconds are free, then each further attempt waits ``delay`` seconds, doubling with
      every failure (at most ``window``).
    * Per account from everywhere, and per address for every account: at most four
      times ``attempts`` failures within ``window`` — but these two limits do not apply
      to a device or address the account signed in from before, so that nobody can
      lock the owner (or everybody behind one NAT address) out.

    An attempt is counted when it starts, before the password is checked, so that many
    attempts sent at once are limited too; a successful one is taken back.
    """

    def __init__(self, accounts: Accounts, attempts: int = 5, window: float = 300.0,
                 delay: float = 15.0) -> None:
        self.accounts, self.attempts, self.window, self.delay = accounts, attempts, window, delay
        self.clock = time.time  # the tests move it on
        self._lock = threading.Lock()

    def attempt(self, name: str, client: str, device: str = "") -> int:
        """Count a sign-in attempt (``device``: :func:`device_digest` of the device
        cookie); its id for :meth:`succeeded`.  :class:`TooManyAttempts` when it must
        wait."""
        key, now = name_key(name), self.clock()
        known_device, known_address = self.accounts.knows(name, client=client, device=device)
        since = now - self.window
        with self._lock, self.accounts._db() as con:
            con.execute("DELETE FROM login_failures WHERE at < ?", (since,))
            # The place: this device when the account knows it, else this address.
            place = ("device = ?", device) if known_device else \
                ("client = ? AND device = ''", client)
            n, last = con.execute(
                f"SELECT count(*), max(at) FROM login_failures WHERE name_key = ? AND "
                f"{place[0]}", (key, place[1])).fetchone()
            waits = []
            if n >= self.attempts:
                pause = min(self.window, self.delay * 2 ** (n - self.attempts))
                waits.append(last + pause - now)
            if not (known_device or known_address):
                for where, value in (("name_key = ?", key), ("client = ?", client)):
                    n, first = con.execute(
                        f"SELECT count(*), min(at) FROM login_failures WHERE {where}",
                        (value,)).fetchone()
                    if n >= 4 * self.attempts:
                        waits.append(first + self.window - now)
            wait = max(waits, default=0)
            if wait > 0:
                seconds = int(wait) + 1
                raise TooManyAttempts(tr(
                    "登录失败次数过多: 请等 {seconds} 秒后再试, 或请管理员解除锁定"
                    "(ecomap user unlock)或重设密码",
                    "too many failed sign-ins; wait {seconds} seconds and try again, or ask "
                    "an administrator to unlock the account (ecomap user unlock) or reset "
                    "the password", seconds=seconds), retry_after=seconds)
            return con.execute("INSERT INTO login_failures VALUES (?, ?, ?, ?)",
                               (key, client, device if known_device else "", now)).lastrowid

    def succeeded(self, attempt: int, user: User, client: str, device: str = "") -> None:
        """The attempt was right: it does not count, the failures at this place are
        forgotten, and the place is known to the account from now on."""
        key = name_key(user.name)
        with self._lock, self.accounts._db() as con:
            con.execute("DELETE FROM login_failures WHERE rowid = ?", (attempt,))
            con.execute("DELETE FROM login_failures WHERE name_key = ? AND "
                        "((client = ? AND device = '') OR (device != '' AND device = ?))",
                        (key, client, device))
        self.accounts.remember(user, client=client, device=device)
