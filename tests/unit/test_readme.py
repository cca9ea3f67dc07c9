"""The README's configuration table and commands stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from newsmill_ingest.cli import app
from newsmill_schema.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_and_every_documented_variable_exists() -> None:
    documented = set(re.findall(r"NEWSMILL_([A-Z0-9_]+)", README)) - {"RELIABILITY_SCALE"}
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from the README"
    assert documented - fields == set(), "README names variables newsmill does not read"


def test_every_newsmill_command_in_the_readme_exists() -> None:
    group = typer.main.get_command(app)
    commands = set(group.commands)  # type: ignore[attr-defined]
    blocks = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.DOTALL))
    in_code = re.findall(r"^\s*(?:\.venv/bin/)?newsmill ([a-z]+)", blocks, flags=re.MULTILINE)
    in_text = re.findall(r"`newsmill ([a-z]+)", README)
    used = set(in_code) | set(in_text)
    assert len(used) > 10
    assert used - commands == set()


def test_quick_start_is_the_two_make_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```", 2)[1]
    assert [line.split()[0:2] for line in quick.strip().splitlines()[1:]] == [
        ["make", "up"],
        ["make", "test"],
    ]
