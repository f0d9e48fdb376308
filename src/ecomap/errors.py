"""One error hierarchy, with messages written for people.

Every message says what failed, the offending value, where (file, layer, feature,
field) and what to do about it.  The CLI and the web layer translate these errors in
one place each; library code never prints or exits.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CRSError",
    "EcomapError",
    "InputError",
    "NotFoundError",
    "PermissionDenied",
    "StoreError",
    "TooManyAttempts",
    "TooManyFeatures",
    "ValidationError",
]


class EcomapError(Exception):
    """Base class of every error ecomap raises on purpose."""

    #: Process exit code used by the CLI.
    exit_code: int = 2


class InputError(EcomapError):
    """A file or an option given by the user cannot be used as it is."""


class ValidationError(InputError):
    """Input was read but breaks one or more rules; ``problems`` lists every one."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class TooManyFeatures(InputError):
    """An upload with more features than the settings allow (counted before reading)."""

    code = "too_many_features"


class CRSError(InputError):
    """The coordinate reference system is missing, unknown or does not fit the data."""


class NotFoundError(EcomapError):
    """A named thing (township, batch, layer, store) does not exist."""


class StoreError(EcomapError):
    """The store cannot be opened, read or written."""


class AuthError(EcomapError):
    """Not signed in, or a name and password that do not match."""


class TooManyAttempts(AuthError):
    """Too many failed sign-ins in a short time; ``retry_after`` seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class PermissionDenied(EcomapError):
    """Signed in, but the account's role does not allow the action (or a form's CSRF
    token is missing or wrong)."""
