"""``python -m bench api`` serves a small catalog and prints a row per scenario: no timings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.__main__ import main as bench_main

ROWS = (
    "GET /healthz (baseline)",
    "all, first page",
    "kind",
    "kind + lifecycle",
    "owner",
    "tag (one, or two: any of)",
    "q (free text)",
    "deep page (next_cursor, up to x10)",
    "sort owner desc",
    "all, limit 200 (extra)",
)


def test_every_scenario_gets_a_row_next_to_the_healthz_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "corpora"
    assert bench_main(["api", "--sizes", "200", "--requests", "20", "--keep", str(keep)]) == 0
    out = capsys.readouterr().out
    assert (keep / "200" / "corpus.json").is_file()
    assert "200 entities in " in out and "server answering after" in out
    table = out.split("p95/healthz", 1)[1]
    for row in ROWS:
        line = next(line for line in table.splitlines() if line.startswith(row + " "))
        # queries, p50, p95, max and first, then (but for the baseline) the ratio
        assert len(re.findall(r"\d+\.\d\d ms", line)) == 4, line
        assert row.startswith("GET /healthz") or re.search(r"\d\.\d\dx", line), line
    assert "goal: p95 at 50,000 entities within 5x the /healthz p95: not judged" in out
    assert "load average" in out
