"""``python -m bench auth`` signs in, asks both servers every row and prints them: no timings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.__main__ import main as bench_main
from bench.auth_overhead import report


def test_every_request_is_asked_of_both_servers_and_judged_against_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "corpus"
    argv = ["auth", "--entities", "60", "--requests", "5", "--concurrency", "2"]
    assert bench_main([*argv, "--keep", str(keep), "--json"]) == 0
    out, err = capsys.readouterr()
    assert (keep / "corpus.json").is_file()
    assert "sign-in: alice has a session cookie and a catalog:read token" in err
    figures = json.loads(out)

    rows = figures["rows"]
    assert [row["kind"] for row in rows.values()] == ["page", "page", "api"]
    catalog, entity, api = rows
    assert (catalog, api) == ("GET /catalog?kind=component", "GET /api/v1/entities?kind=api")
    assert re.fullmatch(r"GET /catalog/component/default/[a-z0-9-]+", entity)
    for row in rows.values():
        assert set(row["servers"]) == {"off", "sso"}
        for stats in row["servers"].values():
            assert stats["requests"] == 5
            assert stats["requests_concurrent"] == 2 * 10  # one burst of 2 threads x 10
            assert stats["rps"] == pytest.approx(1 / stats["mean_s"])
            assert stats["p50_s"] <= stats["p95_s"] <= stats["max_s"]
        off, sso = row["servers"]["off"], row["servers"]["sso"]
        assert off["bytes_median"] > 0 and sso["bytes_median"] > 0
        assert row["cost"] == pytest.approx(1 - sso["rps"] / off["rps"])
    pages = [row["cost"] for row in rows.values() if row["kind"] == "page"]
    assert figures["goal"]["met"] == all(cost < 0.10 for cost in pages)

    table = report(figures)
    for name in rows:
        assert f"\n{name} " in table
    assert table.count("sso (session cookie)") == 2 and table.count("sso (API token)") == 1
    verdict = "met" if figures["goal"]["met"] else "NOT met"
    assert (
        f"goal: auth costs under 10% of throughput (pages, req/s one at a time): {verdict} ("
        in (table)
    )
    assert "API, shown beside it: GET /api/v1/entities?kind=api " in table
    assert "load average" in table
