"""What a route takes from the app it runs in (``app.state``, set by
:func:`~ecomap.web.app.create_app`), as FastAPI dependencies: ``lang: Lang``,
``accounts: AccountsDep`` …  The signed-in session is :mod:`ecomap.web.auth`'s."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ecomap.settings import Settings
from ecomap.web._lang import lang_of
from ecomap.web.accounts import Accounts
from ecomap.web.staging import Staging
from ecomap.web.uploads import Uploads

__all__ = ["AccountsDep", "Lang", "SettingsDep", "StagingDep", "UploadsDep"]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def _staging(request: Request) -> Staging:
    return request.app.state.staging


def _uploads(request: Request) -> Uploads:
    return request.app.state.uploads


#: The language of the request (``?lang=``, its cookie, the settings' default).
Lang = Annotated[str, Depends(lang_of)]
SettingsDep = Annotated[Settings, Depends(_settings)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
StagingDep = Annotated[Staging, Depends(_staging)]
UploadsDep = Annotated[Uploads, Depends(_uploads)]
