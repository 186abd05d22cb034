"""The keymoments web app (``keymoments serve``): upload, define, run, browse, download.

Server-rendered pages in the manner of Datasette: every page also answers
JSON (a ``.json`` suffix or ``Accept: application/json``) and the API is
described at ``/openapi.json``. Build one with :func:`create_app`.
"""

from __future__ import annotations

from keymoments.web.app import create_app

__all__ = ["create_app"]
