"""``python -m bench scorecards`` prints evaluation next to load, on a tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main as bench_main
from bench.scorecards import RULES, main


def test_figures_as_json_then_as_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "corpus"
    assert main(["--entities", "60", "--repeat", "2", "--json", "--keep", str(keep)]) == 0
    out, err = capsys.readouterr()
    figures = json.loads(out)
    assert "check: 61 entities loaded, the scorecard of 25 rules evaluated on 60 of them" in err
    assert (figures["entities"], figures["evaluated_entities"], figures["rules"]) == (60, 60, 25)
    assert len(RULES) == 25
    for name in ("load", "evaluate"):
        assert len(figures[name]["runs_s"]) == 2
        assert figures[name]["best_s"] == min(figures[name]["runs_s"])
    ratio = figures["evaluate"]["best_s"] / figures["load"]["best_s"]
    assert figures["ratio"]["best"] == pytest.approx(ratio)
    assert figures["goal"] == {"max_ratio": 0.5, "judged_on": "best", "met": ratio <= 0.5}

    assert bench_main(["scorecards", "--entities", "60", "--repeat", "1", "--keep", str(keep)]) == 0
    out, _ = capsys.readouterr()
    assert f"corpus: reusing {keep}" in out
    assert "ratio evaluate / load" in out
    assert "goal: evaluate <= 0.5x load (best vs best): " in out
