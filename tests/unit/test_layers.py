"""Importing a layer pulls in only what that layer needs (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ADAPTER_LIBRARIES = ("celery", "kombu", "sqlalchemy", "httpx", "requests")


def _imported_after(module: str) -> set[str]:
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(
    "module", ["newsmill_worker.pipeline", "newsmill_worker.dedup.fingerprint"]
)
def test_the_plain_pipeline_imports_no_broker_database_or_http_client(module: str) -> None:
    assert _imported_after(module).isdisjoint(ADAPTER_LIBRARIES)


def test_the_worker_package_finds_its_celery_app_on_first_use() -> None:
    code = (
        "import sys, newsmill_worker; before = 'celery' in sys.modules; "
        "from celery import Celery; "
        "print(before, isinstance(newsmill_worker.app, Celery))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
