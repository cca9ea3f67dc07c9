"""newsmill's configuration: one typed object, read once at start-up and passed down.

Every field can be set with an environment variable named ``NEWSMILL_<FIELD>``
(for example ``NEWSMILL_DATABASE_URL``). With nothing set, newsmill runs
embedded: SQLite and kombu's filesystem broker under ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All of newsmill's settings, with the defaults of the embedded mode."""

    model_config = SettingsConfigDict(env_prefix="NEWSMILL_", env_file=None, extra="ignore")

    data_dir: Path = Field(Path("data"), description="Root of the embedded mode's files.")
    database_url: str = Field("", description="SQLAlchemy URL; default SQLite in data_dir.")
    broker_url: str = Field("", description="Celery broker URL; default filesystem:// in data_dir.")
    inbox_dir: Path | None = Field(None, description="Watched drop folder; default data_dir/inbox.")
    archive_dir: Path | None = Field(
        None, description="Ingested originals; default data_dir/archive."
    )
    failed_dir: Path | None = Field(None, description="Rejected files; default data_dir/failed.")
    work_dir: Path | None = Field(
        None, description="Claimed files in flight; default data_dir/work."
    )
    archive_mode: Literal["archive", "delete"] = Field(
        "archive", description="What happens to an original once it is safely stored."
    )

    max_document_bytes: int = Field(20 * 1024 * 1024, description="Larger files are refused.")
    max_decompressed_bytes: int = Field(
        50 * 1024 * 1024, description="Cap on bytes produced by gzip-compressed input."
    )
    max_records_per_file: int = Field(10_000, description="Cap on records in one JSON/feed file.")
    max_nesting_depth: int = Field(200, description="Deepest JSON/HTML nesting accepted.")
    max_html_elements: int = Field(
        50_000,
        description="Web pages with more elements are refused: extraction time grows faster than a page's size.",
    )
    settle_seconds: float = Field(
        2.0, description="A file found by rescan must be unchanged this long before it is claimed."
    )
    rescan_interval_s: float = Field(
        30.0, description="Full inbox rescan period (inotify can drop events)."
    )
    reconcile_interval_s: float = Field(10.0, description="How often stuck jobs are looked for.")
    queued_timeout_s: float = Field(
        60.0, description="A queued job not started after this is re-published."
    )
    processing_timeout_s: float = Field(
        180.0,
        description="A job processing longer than this is re-published (must exceed the hard time limit).",
    )
    max_attempts: int = Field(3, description="Processing attempts before a job is failed for good.")

    document_time_limit_s: float = Field(
        30.0,
        description="Time a document may spend in decode/parse/clean; past it the job fails (parsing again would take as long).",
    )
    task_time_limit_s: float = Field(
        60.0, description="Hard limit per task: the worker process running it is killed."
    )
    worker_concurrency: int = Field(2, description="Worker processes per `newsmill worker`.")
    worker_prefetch_multiplier: int = Field(4, description="Messages each worker process reserves.")
    worker_max_memory_mb: int = Field(
        400, description="A worker process above this resident size is replaced after its task."
    )
    worker_memory_limit_mb: int = Field(
        1536,
        description="Hard address-space limit of each worker process; a document needing more fails (0 = none).",
    )
    worker_liveness_interval_s: float = Field(
        30.0,
        description="How often `newsmill worker` probes its Celery worker; a hung or stalled one is restarted (0 = off).",
    )
    worker_liveness_failures: int = Field(
        3, description="Unanswered pings in a row (broker up) before the worker is restarted."
    )
    worker_max_tasks_per_child: int = Field(
        10_000,
        description="Tasks before a worker process is recycled (a new one reloads the language "
        "model, ~0.75 s; worker_max_memory_mb already replaces one that grows).",
    )
    task_events: bool = Field(
        True,
        description="Publish Celery task events (Flower, `celery events`); off saves one broker "
        "message per task state change.",
    )

    dedup_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity (of word shingles) at or above which an article "
        "is a near-duplicate; see the README's deduplication measurements.",
    )
    dedup_shingle_size: int = Field(
        5, ge=1, description="Words per shingle for near-duplicate detection."
    )
    dedup_num_perm: int = Field(
        128,
        ge=16,
        description="MinHash signature length; the LSH banding is derived from it and the threshold.",
    )
    dedup_max_candidates: int = Field(
        20,
        ge=1,
        description="Near-duplicate candidates verified per article, most shared bands first.",
    )

    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="json in containers (no terminal), text on a terminal."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    metrics_port: int = Field(
        0, description="Prometheus endpoint port of the ingest service; 0 = off."
    )
    worker_metrics_port: int = Field(
        0,
        description="Prometheus endpoint port of each `newsmill worker` (all its processes); 0 = off.",
    )
    metrics_address: str = Field(
        "127.0.0.1",
        description="Address the metrics endpoints listen on (0.0.0.0: every interface, as a "
        "container needs for its port to be published).",
    )
    allow_private_addresses: bool = Field(
        False,
        description="Let feeds and full-text fetches reach loopback/private/metadata addresses.",
    )

    feeds_file: Path | None = Field(
        None, description="TOML or YAML list of feeds the ingest service registers at start."
    )
    feed_default_interval_s: int = Field(
        900, description="Poll interval of a feed added without one."
    )
    feed_min_interval_s: int = Field(
        60, description="No feed is polled more often than this, whatever it asks for."
    )
    feed_max_interval_s: int = Field(
        86_400, description="Cap on the delay an RSS ttl, Cache-Control or Expires may ask for."
    )
    feed_jitter: float = Field(
        0.1, description="Each delay is stretched or shrunk by up to this fraction (spreads load)."
    )
    feed_backoff_base_s: float = Field(
        60.0, description="Delay after a feed's first failure; doubles."
    )
    feed_backoff_cap_s: float = Field(
        86_400.0, description="Longest delay between polls of a failing feed (never disabled)."
    )
    feed_check_interval_s: float = Field(
        1.0, description="How often the service looks for due feeds."
    )
    feed_fetch_concurrency: int = Field(4, description="Feeds fetched at the same time.")
    feed_connect_timeout_s: float = Field(10.0, description="Connect timeout of feed/page fetches.")
    feed_read_timeout_s: float = Field(
        20.0, description="Longest wait for the next bytes of a body."
    )
    feed_total_timeout_s: float = Field(
        30.0,
        description="Deadline of a whole fetch (name lookup, connect, headers, body, redirects): "
        "a slow-drip server is cut off after this.",
    )
    feed_max_bytes: int = Field(
        10 * 1024 * 1024,
        description="Feed or page bodies larger than this (decompressed) are refused.",
    )
    feed_max_redirects: int = Field(5, description="Redirect hops followed (each one re-checked).")
    feed_user_agent: str = Field(
        "newsmill/0.1 (news ingestion; +https://github.com/newsmill/newsmill)",
        description="User-Agent of feed and full-text fetches.",
    )
    fulltext_host_interval_s: float = Field(
        2.0,
        description="Full-text fetches to one host start at least this far apart, across every worker (0 = no spacing).",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        data = self.data_dir
        self.inbox_dir = self.inbox_dir or data / "inbox"
        self.archive_dir = self.archive_dir or data / "archive"
        self.failed_dir = self.failed_dir or data / "failed"
        self.work_dir = self.work_dir or data / "work"
        if not self.database_url:
            self.database_url = f"sqlite:///{(data / 'newsmill.db').resolve()}"
        if self.broker_url in ("", "filesystem://"):
            # The filesystem transport has no host; naming one keeps kombu from
            # warning "No hostname was supplied" on every connection it makes.
            self.broker_url = "filesystem://localhost/"
        if self.processing_timeout_s <= self.task_time_limit_s:
            raise ValueError("processing_timeout_s must exceed task_time_limit_s")
        if self.document_time_limit_s >= self.task_time_limit_s:
            raise ValueError("document_time_limit_s must be below task_time_limit_s")
        return self

    @property
    def embedded_broker(self) -> bool:
        """True when the broker is kombu's serverless filesystem transport."""
        return self.broker_url.startswith("filesystem://")

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def folders(self) -> dict[str, Path]:
        """The data folders newsmill owns (created by the ingest service)."""
        assert self.inbox_dir and self.archive_dir and self.failed_dir and self.work_dir
        return {
            "inbox": self.inbox_dir,
            "archive": self.archive_dir,
            "failed": self.failed_dir,
            "work": self.work_dir,
        }


def load_settings(data_dir: Path | None = None) -> Settings:
    """Read settings from the environment, with ``--data-dir`` taking precedence."""
    if data_dir is None:
        return Settings()
    return Settings(data_dir=data_dir)
