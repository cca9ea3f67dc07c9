"""newsmill's workers: the Celery app and tasks, and the document pipeline.

``celery -A newsmill_worker worker`` finds the app here.
"""

from newsmill_worker.celery_app import app

__all__ = ["app"]
