"""The package stays ruff-clean and mypy --strict clean (tools from the test extras)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def test_ruff_is_clean() -> None:
    if shutil.which("ruff") is None:
        pytest.fail("ruff is missing: install the test extras (pip install '.[test]')")
    result = run("ruff", "check", "jwt_wsgi", "tests", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy", "--strict", "jwt_wsgi")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    quickstart = readme.split("Quickstart", 1)[1].split("A 30-second tour", 1)[0]
    commands = [line.strip()[2:] for line in quickstart.splitlines() if line.strip().startswith("$ ")]
    assert len(commands) == 2, commands
    assert commands[0].endswith("jwt-wsgi demo")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == commands[1]
