"""``python -m bench search`` on a small corpus prints every figure by its goal: no timings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.__main__ import main as bench_main
from bench.docs_corpus import generate_docs_repo
from bench.search import make_queries
from portal.model import load_model
from portal.search import documents
from portal.settings import Settings

SMALL = ["--pages", "12", "--entities", "20", "--openapi", "1", "--queries", "20"]
# Nothing listens on port 1: the postgres row must say why it is skipped, not fail the run.
NO_DATABASE = ["--postgres-url", "postgresql://nobody@127.0.0.1:1/none"]


def test_each_engine_gets_its_figures_or_a_skipped_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "corpus"
    argv = ["search", *SMALL, "--keep", str(keep), *NO_DATABASE]
    assert bench_main(argv) == 0
    out = capsys.readouterr().out
    tantivy, whoosh, postgres = (
        out.split(f"== {name} (", 1)[1] for name in ("tantivy", "whoosh", "postgres")
    )
    for section in (tantivy.split("== whoosh", 1)[0], whoosh.split("== postgres", 1)[0]):
        assert re.search(
            r"full index \(replace_all\) +\d+\.\d\d s  goal < 15 s: (met|NOT met)", section
        )
        assert "one-page update of " in section and "1 changed, 0 removed" in section
        for label in ("engine.update alone", "the portal's sync (changes + update)"):
            assert re.search(
                re.escape(label) + r" +\d+\.\d ms  goal < 200\.0 ms: (met|NOT met)", section
            )
        assert re.search(r"whole path from the edit +\d+\.\d ms  \(no goal of its own: ", section)
        assert re.search(r"queries in-process: n=20 .* goal p95 < 10\.0 ms: (met|NOT met)", section)
        assert re.search(
            r"queries over HTTP, 8 clients .* goal p95 < 30\.0 ms: (met|NOT met)", section
        )
        assert "GET /healthz baseline (same run)  n=20" in section
        assert "FAILED" not in section
    assert postgres.split("\n", 2)[1].startswith("skipped: cannot connect to the database")
    assert "machine: " in out and "load average" in out


def test_figures_as_json_from_the_kept_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "corpus"
    assert bench_main(["search", *SMALL, "--keep", str(keep), "--engines", "tantivy"]) == 0
    capsys.readouterr()
    assert (
        bench_main(["search", *SMALL, "--keep", str(keep), "--engines", "tantivy", "--json"]) == 0
    )
    out, err = capsys.readouterr()
    assert f"corpus: reusing {keep / 'repo'}" in err
    (run,) = json.loads(out)["engines"]
    assert run["engine"] == "tantivy" and run["index_s"] > 0
    assert run["in_process"]["all"]["n"] == 20 and run["http"]["search"]["all"]["n"] == 20
    assert run["http"]["failures"] == 0


def test_the_queries_are_seeded_and_mixed(tmp_path: Path) -> None:
    generate_docs_repo(tmp_path, pages=12, entities=20, openapi=1)
    docs = list(documents(load_model(Settings(root=tmp_path))))
    first, again = make_queries(docs, 200, seed=3), make_queries(docs, 200, seed=3)
    assert first == again and len(first) == 200
    kinds = {probe.kind for probe in first}
    assert kinds == {"word", "two words", "phrase", "entity name", "filter", "typo", "prefix"}
    assert any(":" in p.text for p in first if p.kind == "filter")
    assert make_queries(docs, 200, seed=4) != first
