"""``python -m bench catalog`` prints its figures, reuses a kept corpus and refuses a wrong one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main as bench_main
from bench.catalog_load import main


def test_figures_as_json_then_as_a_table_from_the_kept_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "corpus"
    assert main(["--entities", "40", "--repeat", "2", "--json", "--keep", str(keep)]) == 0
    out, err = capsys.readouterr()
    figures = json.loads(out)
    assert "check: load_catalog read" in err and "0 errors, 0 warnings" in err
    assert figures["entities"] == 40
    for name in ("baseline", "full"):
        assert len(figures[name]["runs_s"]) == 2
        assert figures[name]["best_s"] == min(figures[name]["runs_s"])
        assert figures[name]["peak_traced_bytes"] > 0
        assert figures[name]["max_rss_fresh_process_bytes"] > 0
    ratio = figures["full"]["best_s"] / figures["baseline"]["best_s"]
    assert figures["ratio"]["best"] == pytest.approx(ratio)
    assert figures["goal"]["met"] == (ratio <= 2.0)

    assert bench_main(["catalog", "--entities", "40", "--repeat", "1", "--keep", str(keep)]) == 0
    out, _ = capsys.readouterr()
    assert f"corpus: reusing {keep}" in out
    assert "baseline (read + CSafeLoader)" in out
    assert "goal: full <= 2.0x baseline (best vs best): " in out


def test_a_kept_corpus_of_another_size_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "corpus.json").write_text('{"entities": 40, "seed": 1}', encoding="utf-8")
    assert main(["--entities", "50", "--keep", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path} holds a corpus of 40 entities (seed 1), not 50 (seed 1); "
        "use another --keep DIR\n"
    )


def test_an_unknown_benchmark_is_named_in_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["nope"]) == 2
    assert "names: api, auth, catalog, docs, load, scorecards, search" in capsys.readouterr().err
