"""The built wheel: newsmill's packages and nothing that belongs in the checkout only."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_packages_and_no_benchmark(tmp_path: Path) -> None:
    # Given the wheel pip builds from the checkout
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "--quiet", "--wheel-dir", str(tmp_path)], check=True, capture_output=True
    )
    [wheel] = tmp_path.glob("newsmill-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    # Then it carries the three packages
    for package in ("newsmill_schema", "newsmill_ingest", "newsmill_worker"):
        assert f"{package}/__init__.py" in names
    # And no benchmark module
    benchmarks = {name for name in names if "bench" in PurePosixPath(name).parts}
    assert benchmarks == set(), sorted(benchmarks)
