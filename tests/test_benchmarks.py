"""The benchmark scripts run from a checkout (a smoke test: no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)


def test_overhead_quick_prints_the_table_and_the_goals(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = run("benchmarks/overhead.py", "--quick", "--rounds", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["case", "median"] for line in lines), result.stdout
    for case in ("bare app", "pure-Python HS256 floor", "jwt_wsgi public path",
                 "jwt_wsgi unmatched, 1000 rules", "jwt_wsgi HS256 cold (cache off)",
                 "jwt_wsgi HS256 cached", "jwt_wsgi RS256 cached", "jwt_wsgi ES256 cached",
                 "Flask + flask-jwt-extended", "Flask + jwt_wsgi cached"):
        assert any(line.startswith(case + " ") for line in lines), case
    goals = [line for line in lines if line.startswith(("MET ", "NOT MET "))]
    assert len(goals) == 6, result.stdout
    # The stage table: every group, its stages, and what the stages leave unexplained.
    saved = json.loads(out.read_text())
    groups = {row["group"] for row in saved["stages"]}
    assert groups == {"cached HS256 request", "HS256 request, token never seen",
                      "public request, path never seen"}
    for group in groups:
        names = [row["stage"] for row in saved["stages"] if row["group"] == group]
        assert len(names) >= 3 and names[-1] == "rest", names
    assert all(row["stage"] == "rest" or row["us"] >= 0 for row in saved["stages"])
    assert "Where the time goes" in result.stdout


def test_http_throughput_script_loads() -> None:
    result = run("benchmarks/http_throughput.py", "--help")
    assert result.returncode == 0, result.stderr
    assert "--duration" in result.stdout


def test_forward_auth_benchmark_script_loads() -> None:
    result = run("benchmarks/forward_auth.py", "--help")
    assert result.returncode == 0, result.stderr
    assert "--duration" in result.stdout
