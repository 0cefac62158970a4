"""The judged query set: each query's expected answer must be among the first three hits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from portal.search import SearchDoc, SearchEngine, SearchQuery

JUDGED: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "judged.yaml").read_text(encoding="utf-8")
)


def test_the_set_is_large_enough_and_names_real_documents(by_id: dict[str, SearchDoc]) -> None:
    assert len(JUDGED) >= 30
    for case in JUDGED:
        expected = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
        for doc_id in expected:
            assert doc_id in by_id, f"{case['query']!r}: no document {doc_id}"


@pytest.mark.parametrize("case", JUDGED, ids=[c["query"] for c in JUDGED])
def test_judged_query(
    case: dict[str, Any], repo_engine: SearchEngine, everyone: frozenset[str]
) -> None:
    expected = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    audiences = frozenset([case["audience"]]) if "audience" in case else everyone
    hits = [hit.id for hit in repo_engine.search(SearchQuery(case["query"], audiences)).hits]
    assert set(expected) & set(hits[:3]), f"top 3 of {case['query']!r}: {hits[:3]}"
