"""Settings: one frozen object, read from ``ECOMAP_*`` environment variables, passed explicitly."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = ["DEFAULT_STORE", "Settings"]

#: File name of the embedded store, looked up in the working directory.
DEFAULT_STORE = "ecomap.gpkg"


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


@dataclass(frozen=True)
class Settings:
    """Everything ecomap needs to know that is not in the data.

    Attributes
    ----------
    store
        Store location: a GeoPackage path (the default ``ecomap.gpkg`` in the working
        directory); later also a ``postgresql://`` URL.
    lang
        Language of maps, tables and messages: ``"zh"`` (default) or ``"en"``.
    user
        Name recorded with each stored batch.
    """

    store: str = DEFAULT_STORE
    lang: str = "zh"
    user: str = field(default_factory=_default_user)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from ``ECOMAP_STORE``, ``ECOMAP_LANG``, ``ECOMAP_USER``, then ``overrides``."""
        env = os.environ if env is None else env
        values = {}
        for name in ("store", "lang", "user"):
            key = f"ECOMAP_{name.upper()}"
            if env.get(key):
                values[name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
