"""The fault suite's tools: throwaway servers, a running stack, a corpus, and the ledger check.

Each scenario submits a known set of documents, breaks something for real,
waits for the system to settle, then checks the ledger: every input is exactly
one finished job, the articles are exactly the expected ones, and no file is
left claimed but unrecorded.
"""

from __future__ import annotations

import contextlib
import html
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from sqlalchemy import ColumnElement, func, select

from newsmill_schema import models
from newsmill_schema.db import Database
from newsmill_schema.messages import FINISHED_STATES
from tests.support import Process, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
BBC = ROOT.parent / "shared" / "data" / "bbc"
PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").is_dir()
        else "15"
    )
    / "bin"
)

# Short timeouts make lost messages and dead workers visible within seconds.
FAST = {
    "NEWSMILL_LOG_FORMAT": "text",
    "NEWSMILL_RESCAN_INTERVAL_S": "1",
    "NEWSMILL_SETTLE_SECONDS": "0.5",
    "NEWSMILL_RECONCILE_INTERVAL_S": "1",
    "NEWSMILL_QUEUED_TIMEOUT_S": "3",
    "NEWSMILL_DOCUMENT_TIME_LIMIT_S": "5",
    "NEWSMILL_TASK_TIME_LIMIT_S": "10",
    "NEWSMILL_PROCESSING_TIMEOUT_S": "12",
    "NEWSMILL_WORKER_CONCURRENCY": "2",
    "NEWSMILL_WORKER_LIVENESS_INTERVAL_S": "2",
}


class RedisServer:
    """A Redis of the test's own, with no persistence, that can be restarted."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers(self.port), 10, what="redis-server")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self) -> None:
        self.kill()
        self.start()


class PostgresServer:
    """A Postgres cluster of the test's own (initdb in a temp folder), restartable."""

    def __init__(self) -> None:
        self.port = free_port()
        # Outside pytest's tmp_path: its parents are private to root, and Postgres runs as postgres.
        workdir = Path(tempfile.mkdtemp(prefix="newsmill-pg-"))
        self.workdir = workdir
        self.data = workdir / "pgdata"
        self.log = workdir / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(workdir, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-o",
            f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Stack:
    """An ingest service and a worker as separate real processes, restartable."""

    tmp: Path
    database_url: str
    broker_url: str
    env_extra: dict[str, str] = field(default_factory=dict)
    worker_module: str = "newsmill_ingest"
    worker_args: tuple[str, ...] = ("worker",)
    ingest: Process | None = None
    worker: Process | None = None
    _runs: int = 0

    @property
    def data(self) -> Path:
        return self.tmp / "data"

    @property
    def inbox(self) -> Path:
        return self.data / "inbox"

    @property
    def env(self) -> dict[str, str]:
        return {
            **FAST,
            "NEWSMILL_DATA_DIR": str(self.data),
            "NEWSMILL_DATABASE_URL": self.database_url,
            "NEWSMILL_BROKER_URL": self.broker_url,
            **self.env_extra,
        }

    def migrate(self) -> None:
        migrate = Process(["db", "upgrade"], self.env, self.tmp / "migrate.log")
        assert migrate.popen.wait(timeout=120) == 0, migrate.output()

    def start_ingest(self) -> Process:
        self._runs += 1
        self.ingest = Process(["ingest"], self.env, self.tmp / f"ingest-{self._runs}.log")
        wait_for(lambda: self.inbox.is_dir(), 30, what="the inbox")
        return self.ingest

    def start_worker(self) -> Process:
        self._runs += 1
        log = self.tmp / f"worker-{self._runs}.log"
        self.worker = Process(list(self.worker_args), self.env, log, module=self.worker_module)
        wait_for(
            lambda: "ready" in self.worker.output() if self.worker else False,
            60,
            what="worker ready",
        )
        return self.worker

    def start(self) -> Stack:
        self.migrate()
        self.start_worker()
        self.start_ingest()
        return self

    def stop(self) -> None:
        for process in (self.ingest, self.worker):
            if process is not None:
                process.stop()

    def pool_processes(self) -> list[psutil.Process]:
        """The worker's prefork pool (below the supervisor and Celery's main process)."""
        assert self.worker is not None
        celery_main = psutil.Process(self.worker.popen.pid).children()
        return [p for main in celery_main for p in main.children()]

    def freeze_worker(self) -> None:
        """SIGSTOP the whole worker tree: it keeps what it holds but takes nothing new."""
        self._signal_worker_tree(signal.SIGSTOP)

    def thaw_worker(self) -> None:
        self._signal_worker_tree(signal.SIGCONT)

    def _signal_worker_tree(self, signum: int) -> None:
        assert self.worker is not None
        root = psutil.Process(self.worker.popen.pid)
        for proc in [root, *root.children(recursive=True)]:
            proc.send_signal(signum)

    def logged(self, text: str) -> bool:
        """Whether any process of this stack ever wrote `text` to its log."""
        return any(text in p.read_text(errors="replace") for p in self.tmp.glob("*.log"))

    def logs(self) -> str:
        """The tail of every log, for failure messages."""
        return "\n".join(
            p.read_text(errors="replace")[-4000:] for p in sorted(self.tmp.glob("*.log"))
        )


@dataclass(frozen=True)
class Document:
    name: str
    title: str
    data: bytes


def corpus(count: int, seed: int = 7) -> list[Document]:
    """``count`` distinct real articles (BBC, when beside the repository), else generated ones.

    Each gets a unique title line, so the expected article set is exactly one per document.
    """
    rng = random.Random(seed)
    bodies = _bbc_bodies() or _generated_bodies(rng, 400)
    docs = []
    for i in range(count):
        paragraphs = bodies[i % len(bodies)]
        # Entities decoded up front: newsmill stores "&#163;" as "£", and the ledger compares titles.
        title = f"Dispatch {i:05d}: {' '.join(html.unescape(paragraphs[0]).split()[:12])}"
        text = "\n\n".join([title, *paragraphs[1:], f"Filed under reference {i} of run {seed}."])
        docs.append(Document(name=f"doc-{i:05d}.txt", title=title, data=text.encode("utf-8")))
    return docs


def _bbc_bodies() -> list[list[str]]:
    if not BBC.is_dir():
        return []
    bodies = []
    for path in sorted(BBC.glob("*/*.txt")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
        if len(paragraphs) >= 3:
            bodies.append(paragraphs)
    return bodies


def _generated_bodies(rng: random.Random, count: int) -> list[list[str]]:
    words = [
        "market",
        "minister",
        "council",
        "league",
        "storm",
        "court",
        "vote",
        "budget",
        "energy",
        "strike",
        "player",
        "film",
    ]
    return [
        [" ".join(rng.choice(words) for _ in range(12)).capitalize()]
        + [" ".join(rng.choice(words) for _ in range(40)) + "." for _ in range(4)]
        for _ in range(count)
    ]


def drop(inbox: Path, docs: list[Document]) -> None:
    """Write each document beside the inbox, then move it in (as a careful producer does)."""
    staging = inbox.parent / "staging"
    staging.mkdir(exist_ok=True)
    for doc in docs:
        (staging / doc.name).write_bytes(doc.data)
        os.replace(staging / doc.name, inbox / doc.name)


def top_level_jobs(db: Database) -> dict[str, list[models.Job]]:
    with db.session() as session:
        jobs = session.execute(select(models.Job).where(models.Job.parent_id.is_(None))).scalars()
        by_name: dict[str, list[models.Job]] = {}
        for job in jobs:
            by_name.setdefault(job.name, []).append(job)
        return by_name


def settled(db: Database, names: set[str]) -> bool:
    jobs = top_level_jobs(db)
    return names <= set(jobs) and all(j.state in FINISHED_STATES for n in names for j in jobs[n])


def wait_settled(db: Database, names: set[str], timeout: float, stack: Stack | None = None) -> None:
    try:
        wait_for(
            lambda: settled(db, names), timeout, interval=0.25, what=f"{len(names)} jobs to settle"
        )
    except AssertionError:
        jobs = top_level_jobs(db)
        missing = sorted(names - set(jobs))[:5]
        pending = sorted(
            n for n in names & set(jobs) if any(j.state not in FINISHED_STATES for j in jobs[n])
        )
        detail = f"missing={missing} (of {len(names - set(jobs))}) pending={pending[:5]} (of {len(pending)})"
        raise AssertionError(f"not settled: {detail}\n{stack.logs() if stack else ''}") from None


def assert_ledger(
    db: Database, docs: list[Document], work_dir: Path, failed: AbstractSet[str] = frozenset()
) -> None:
    """Every input is exactly one finished job; the articles are exactly the expected ones."""
    jobs = top_level_jobs(db)
    names = {d.name for d in docs}
    doubled = {n: len(j) for n, j in jobs.items() if n in names and len(j) != 1}
    assert not doubled, f"inputs recorded more than once: {list(doubled.items())[:5]}"
    assert names <= set(jobs), f"inputs lost: {sorted(names - set(jobs))[:5]}"
    states = {n: jobs[n][0].state for n in names}
    unexpected = {n: s for n, s in states.items() if (s == "failed") != (n in failed)}
    assert not unexpected, f"unexpected outcomes: {list(unexpected.items())[:5]}: " + str(
        [(jobs[n][0].error) for n in list(unexpected)[:3]]
    )
    with db.session() as session:
        titles = list(session.execute(select(models.Article.title)).scalars())
        count = session.scalar(select(func.count()).select_from(models.Article))
    expected = {d.title for d in docs if d.name not in failed}
    assert count == len(expected), f"{count} article rows for {len(expected)} expected"
    assert set(titles) == expected, (
        f"unexpected titles: {sorted(set(titles) - expected)[:3]}, missing: {sorted(expected - set(titles))[:3]}"
    )
    leftovers = [p.name for p in work_dir.iterdir()] if work_dir.exists() else []
    assert leftovers == [], f"claimed but unrecorded files: {leftovers[:5]}"


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants at once."""
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [parent, *parent.children(recursive=True)]
    for proc in procs:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def progress(db: Database) -> int:
    """How many top-level jobs have finished."""
    return _top_level_count(db, models.Job.state.in_(FINISHED_STATES))


def published(db: Database) -> int:
    """How many top-level jobs have had their message sent to the broker."""
    return _top_level_count(db, models.Job.enqueued_at.is_not(None))


def _top_level_count(db: Database, condition: ColumnElement[bool]) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(models.Job).where(models.Job.parent_id.is_(None))
        return int(session.scalar(query.where(condition)) or 0)


def wait_progress(db: Database, at_least: int, timeout: float) -> None:
    wait_for(
        lambda: progress(db) >= at_least, timeout, interval=0.1, what=f"{at_least} finished jobs"
    )
