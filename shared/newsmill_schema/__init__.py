"""newsmill's shared contract: messages, the Article, settings, database models and migrations.

Both the ingest service and the workers import this package; it imports neither.
"""

from newsmill_schema.article import Article, Source
from newsmill_schema.messages import JobState, ProcessDocument
from newsmill_schema.settings import Settings, load_settings

__all__ = ["Article", "JobState", "ProcessDocument", "Settings", "Source", "load_settings"]
