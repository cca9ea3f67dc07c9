"""newsmill's workers: the document pipeline, deduplication, and the Celery tasks running them.

``celery -A newsmill_worker worker`` finds the Celery app as ``newsmill_worker.app``.
It is imported on first use, so importing the plain pipeline does not import Celery.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from newsmill_worker.celery_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
