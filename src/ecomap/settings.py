"""Settings: one frozen object, read from ``ECOMAP_*`` environment variables, passed explicitly."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

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
    #: Largest upload accepted, in MB (the file as sent, zipped or not).
    max_upload_mb: float = 200.0
    #: Largest total uncompressed size of an archive, in MB, and most members (zip bombs).
    max_unzipped_mb: float = 2000.0
    max_zip_members: int = 10_000
    #: Most features in one upload: the command line, and the web service (whose checks
    #: share the server with everybody else).  Counted before geometries are read.
    max_features: int = 1_000_000
    max_features_web: int = 100_000
    #: Web: a check (read + checks of one upload, in a worker process) stops after this
    #: many seconds, or when it needs more memory than this many MB beyond the program
    #: itself; at most ``check_workers`` checks run at once.
    check_seconds: float = 120.0
    check_memory_mb: float = 2048.0
    check_workers: int = 2
    #: Web: disk taken by uploads waiting for review, in MB, per account and in all.
    staging_mb_per_user: float = 1000.0
    staging_mb: float = 4000.0
    #: Plots smaller than this (mu) are slivers and are left out.
    min_plot_mu: float = 0.1
    #: Declared (面积_亩) vs computed area: relative difference that warns.
    area_tolerance: float = 0.05
    #: Accounts of the web service (SQLite file); empty: beside the store
    #: (``ecomap.gpkg`` → ``ecomap.users.sqlite``).
    users: str = ""
    #: Hours a web sign-in lasts.
    session_hours: float = 12.0
    #: Uploads the web service checks at once, in all and per account (more: 429).
    max_parallel_uploads: int = 4
    max_parallel_uploads_per_user: int = 2
    #: Issuing unit printed on briefings (编制单位), e.g. "大余县林业局"; empty: none.
    issuer: str = ""
    #: Date printed on briefings (YYYY-MM-DD); empty: the day it is made.
    date: str = ""
    #: Time zone of times shown to people (batches, reports): IANA name.
    timezone: str = "Asia/Shanghai"
    #: Evidence photos: how far (m) from a patch or plot a photo's position may be and
    #: still attach to it when no patch or plot contains it.
    photo_tolerance_m: float = 50.0

    @property
    def users_path(self) -> str:
        """Where the web accounts live (see :attr:`users`)."""
        if self.users:
            return self.users
        if self.store.lower().endswith(".gpkg"):
            return self.store[:-5] + ".users.sqlite"
        return "ecomap.users.sqlite"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from ``ECOMAP_<FIELD>`` variables (``ECOMAP_STORE`` …), then ``overrides``."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            key = f"ECOMAP_{f.name.upper()}"
            if env.get(key):
                kind = type(getattr(cls(), f.name))
                values[f.name] = kind(env[key]) if kind in (int, float) else env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
