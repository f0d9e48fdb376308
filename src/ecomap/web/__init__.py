"""The web service of ecomap: ``create_app(settings)``, run by ``ecomap serve``.

Needs the ``web`` extra (FastAPI, uvicorn, python-multipart, argon2-cffi).
"""

from __future__ import annotations

from ecomap.web.app import create_app

__all__ = ["create_app"]
