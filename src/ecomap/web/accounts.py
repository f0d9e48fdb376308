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
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecomap.errors import AuthError, InputError, NotFoundError, TooManyAttempts

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
"""


@dataclass(frozen=True)
class User:
    """A signed-in account."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        """Whether this account has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    kind: str  # "browser" (cookie, CSRF-checked) or "api" (bearer token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", str(name)).strip()
    if not 1 <= len(name) <= 64 or any(unicodedata.category(c).startswith("C") or
                                       c in "/\\" for c in name):
        raise InputError(f"account name {name!r}: use 1 to 64 letters, digits or Chinese "
                         "characters, without slashes or control characters")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r} does not exist; use one of {', '.join(ROLES)}")
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
    def add(self, name: str, password: str, role: str = "viewer") -> User:
        name, role = check_name(name), check_role(role)
        if len(password) < MIN_PASSWORD:
            raise InputError(f"the password of {name!r} is too short: use at least "
                             f"{MIN_PASSWORD} characters")
        try:
            self._run("INSERT INTO users (name, role, password_hash, created_at) "
                      "VALUES (?, ?, ?, ?)",
                      (name, role, self._hasher.hash(password),
                       _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")))
        except sqlite3.IntegrityError as exc:
            raise InputError(f"account {name!r} exists already; pick another name or "
                             "remove it first") from exc
        return User(name, role)

    def get(self, name: str) -> User:
        rows = self._run("SELECT name, role FROM users WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no account {name!r}; 'ecomap user list' lists them")
        return User(*rows[0])

    def list(self) -> list[dict]:
        rows = self._run("SELECT name, role, created_at FROM users ORDER BY name")
        return [{"name": n, "role": r, "created_at": c} for n, r, c in rows]

    def set_role(self, name: str, role: str) -> User:
        self.get(name)
        self._run("UPDATE users SET role = ? WHERE name = ?", (check_role(role), name))
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        self.get(name)
        if len(password) < MIN_PASSWORD:
            raise InputError(f"the password of {name!r} is too short: use at least "
                             f"{MIN_PASSWORD} characters")
        with self._db() as con:
            con.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                        (self._hasher.hash(password), name))
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def remove(self, name: str) -> None:
        self.get(name)
        with self._db() as con:
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            con.execute("DELETE FROM users WHERE name = ?", (name,))

    def authenticate(self, name: str, password: str) -> User:
        """The account when ``password`` is right; :class:`AuthError` otherwise."""
        rows = self._run("SELECT name, role, password_hash FROM users WHERE name = ?",
                         (unicodedata.normalize("NFC", str(name)).strip(),))
        stored = rows[0][2] if rows else self._dummy
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            rows = []
        if not rows:
            raise AuthError("wrong account name or password")
        if self._hasher.check_needs_rehash(stored):
            self._run("UPDATE users SET password_hash = ? WHERE name = ?",
                      (self._hasher.hash(password), rows[0][0]))
        return User(rows[0][0], rows[0][1])

    # --- sessions -----------------------------------------------------------------
    def open_session(self, user: User, *, hours: float, kind: str = "browser"
                     ) -> tuple[str, Session]:
        """A new session: its secret token (for the cookie or bearer) and the session."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = time.time()
        with self._db() as con:
            con.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                        (_digest(token), user.name, csrf, kind, now + hours * 3600))
        return token, Session(user, csrf, kind)

    def session(self, token: str | None) -> Session | None:
        """The live session of ``token``, or None."""
        if not token:
            return None
        rows = self._run(
            "SELECT u.name, u.role, s.csrf, s.kind FROM sessions s JOIN users u "
            "ON u.name = s.user_name WHERE s.token_sha256 = ? AND s.expires > ?",
            (_digest(token), time.time()))
        if not rows:
            return None
        name, role, csrf, kind = rows[0]
        return Session(User(name, role), csrf, kind)

    def close_session(self, token: str | None) -> None:
        if token:
            self._run("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),))


class LoginLimiter:
    """At most ``attempts`` failed sign-ins per account name and four times as many per
    client address within ``window`` seconds; then :class:`TooManyAttempts` until the
    oldest expires.

    An attempt is counted when it starts, before the password is checked, so that many
    attempts sent at once are limited too; a successful one is taken back.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str, client: str) -> list[tuple[str, int]]:
        name = unicodedata.normalize("NFC", str(name)).strip().lower()
        # The per-address limit is wider: several staff may share one address.
        return [(f"name:{name}", self.attempts), (f"client:{client}", 4 * self.attempts)]

    def attempt(self, name: str, client: str) -> None:
        """Count a sign-in attempt; :class:`TooManyAttempts` when over a limit."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, q in self._failures.items()
                        if not q or q[-1] < now - self.window]:
                del self._failures[key]  # forget the quiet ones
            keys = self._keys(name, client)
            for key, limit in keys:
                q = self._failures.get(key, ())
                while q and q[0] < now - self.window:
                    q.popleft()
                if len(q) >= limit:
                    wait = int(q[0] + self.window - now) + 1
                    raise TooManyAttempts(
                        f"too many failed sign-ins; wait {wait} seconds and try again, or "
                        "ask an administrator to reset the password", retry_after=wait)
            for key, _ in keys:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str, client: str) -> None:
        """The attempt was right: it does not count, and the account's count restarts."""
        (name_key, _), (client_key, _) = self._keys(name, client)
        with self._lock:
            self._failures.pop(name_key, None)
            q = self._failures.get(client_key)
            if q:
                q.pop()
