"""Every engine on the repository's own docs and catalog, and on small made-up indexes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from portal.search import SearchDoc, SearchEngine, SearchError, SearchQuery, changes
from portal.search.engine import SearchResults
from tests.search.conftest import ENGINES, EngineClass

PARTNERS = frozenset({"partners"})


def ids(results: SearchResults) -> list[str]:
    return [hit.id for hit in results.hits]


def doc(doc_id: str, text: str, **fields: object) -> SearchDoc:
    values: dict[str, object] = {
        "type": "page",
        "kind": "page",
        "title": "Made up",
        "heading": "A section",
        "heading_path": ("Made up", "A section"),
        "path": "made-up.md",
        "audiences": ("everyone",),
        **fields,
    }
    return SearchDoc(id=doc_id, text=text, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["", "api", "token", "deployment", "projects", "kind:api", "type:operation", "sign"]
)
def test_a_partners_reader_never_gets_an_internal_hit(
    repo_engine: SearchEngine, by_id: dict[str, SearchDoc], text: str
) -> None:
    results = repo_engine.search(SearchQuery(text, PARTNERS, limit=100))
    assert results.total == len(results.hits)
    for hit in results.hits:
        assert "partners" in by_id[hit.id].audiences, hit.id
    # counts are over the permitted results only
    assert sum(results.facets.get("type", {}).values()) == results.total
    for name, values in results.facets.items():
        for value, count in values.items():
            assert count <= results.total, (name, value)


def test_facet_counts_count_only_what_the_reader_may_see(
    repo_engine: SearchEngine, repo_docs: list[SearchDoc]
) -> None:
    results = repo_engine.search(SearchQuery("", PARTNERS, limit=1))
    permitted = [d for d in repo_docs if "partners" in d.audiences]
    assert results.total == len(permitted)
    assert results.facets["type"] == {
        t: sum(d.type == t for d in permitted) for t in {d.type for d in permitted}
    }
    assert results.facets["tag"]["public"] == sum("public" in d.tags for d in permitted)
    assert "internal" not in results.facets["tag"]
    assert set(results.facets["owner"]) == {d.owner for d in permitted if d.owner}


@pytest.mark.parametrize("text", ["deployment", "kind:api", "deploymnt", '"rolling back"'])
def test_without_facets_the_same_hits_and_total_come_back_and_no_counts(
    repo_engine: SearchEngine, everyone: frozenset[str], text: str
) -> None:
    counted = repo_engine.search(SearchQuery(text, everyone, limit=10))
    uncounted = repo_engine.search(SearchQuery(text, everyone, limit=10, facets=False))
    assert counted.total > 0 and any(counted.facets.values())
    assert (ids(uncounted), uncounted.total) == (ids(counted), counted.total)
    assert uncounted.facets == {"type": {}, "kind": {}, "owner": {}, "tag": {}}


def test_a_reader_of_no_audience_finds_nothing(repo_engine: SearchEngine) -> None:
    results = repo_engine.search(SearchQuery("deployment", frozenset()))
    assert (results.hits, results.total) == ([], 0)
    assert repo_engine.suggest("depl", frozenset()) == []


def test_a_typo_of_one_edit_is_forgiven_on_long_words(
    repo_engine: SearchEngine, everyone: frozenset[str]
) -> None:
    assert ids(repo_engine.search(SearchQuery("deploymnet", everyone)))[0].startswith(
        "page:operations/deployment.md"
    )
    assert "entity:resource:default/elasticsearch-cluster" in ids(
        repo_engine.search(SearchQuery("elasticsearh", everyone))
    )
    # four letters: one edit away is too often another word
    assert "entity:resource:default/redis-cache" not in ids(
        repo_engine.search(SearchQuery("rdis", everyone, limit=100))
    )


def test_words_match_their_other_forms(
    repo_engine: SearchEngine, everyone: frozenset[str], by_id: dict[str, SearchDoc]
) -> None:
    hits = ids(repo_engine.search(SearchQuery("canaries", everyone)))
    assert hits[0] == "page:operations/deployment.md#canary"
    assert "canaries" not in by_id[hits[0]].text.lower()


def test_a_quoted_phrase_needs_its_words_in_order(
    repo_engine: SearchEngine, everyone: frozenset[str], by_id: dict[str, SearchDoc]
) -> None:
    results = repo_engine.search(SearchQuery('"refresh token"', everyone, limit=100))
    assert results.total > 0
    for hit in results.hits:
        found = by_id[hit.id]
        fields = (found.title, found.heading, found.text, found.keywords, found.context)
        assert re.search(r"refresh\W+tokens?\b", " ".join(fields).lower()), hit.id
    reversed_phrase = repo_engine.search(SearchQuery('"token refresh rotating"', everyone))
    assert reversed_phrase.total == 0


def test_filters_typed_in_the_box(
    repo_engine: SearchEngine, by_id: dict[str, SearchDoc], everyone: frozenset[str]
) -> None:
    apis = repo_engine.search(SearchQuery("kind:api", everyone, limit=100))
    assert apis.total == 6
    assert {by_id[i].kind for i in ids(apis)} == {"api"}
    sre = repo_engine.search(SearchQuery("owner:sre", everyone, limit=100))
    assert sre.total > 0
    assert {by_id[i].owner for i in ids(sre)} == {"group:default/sre"}
    public_ops = repo_engine.search(SearchQuery("tag:public type:operation", everyone, limit=100))
    assert public_ops.total == sum(
        d.type == "operation" and "public" in d.tags for d in by_id.values()
    )
    given = repo_engine.search(SearchQuery("token", everyone, types=("operation",), limit=100))
    assert given.total > 0
    assert {by_id[i].type for i in ids(given)} == {"operation"}


def test_hits_link_to_their_section_entity_or_operation(
    repo_engine: SearchEngine, everyone: frozenset[str]
) -> None:
    hit = repo_engine.search(SearchQuery("canary", everyone)).hits[0]
    assert (hit.id, hit.type, hit.path, hit.anchor) == (
        "page:operations/deployment.md#canary",
        "page",
        "operations/deployment.md",
        "canary",
    )
    assert hit.heading_path == ("Deployment", "Which strategy a service uses", "Canary")
    assert "<mark>canary</mark>" in hit.snippet
    op = repo_engine.search(SearchQuery("list projects type:operation", everyone)).hits[0]
    assert (op.ref, op.path, op.anchor) == (
        "api:default/projects-api",
        "apis/default/projects-api.md",
        "op-listprojects",
    )


def test_pages_of_results_follow_the_cursor(
    repo_engine: SearchEngine, everyone: frozenset[str]
) -> None:
    whole = repo_engine.search(SearchQuery("token", everyone, limit=100))
    assert 12 < whole.total < 100
    seen: list[str] = []
    cursor = None
    while True:
        page = repo_engine.search(SearchQuery("token", everyone, limit=5, cursor=cursor))
        assert page.total == whole.total
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids(whole)


def test_suggest_completes_titles_and_headings(
    repo_engine: SearchEngine, everyone: frozenset[str], by_id: dict[str, SearchDoc]
) -> None:
    suggested = [hit.id for hit in repo_engine.suggest("depl", everyone)]
    assert suggested[0] == "page:operations/deployment.md"
    assert [h.id for h in repo_engine.suggest("getting sta", everyone, limit=1)] == [
        "page:partners/getting-started.md"
    ]
    for hit in repo_engine.suggest("p", PARTNERS, limit=50):
        assert "partners" in by_id[hit.id].audiences
    assert repo_engine.suggest("  ", everyone) == []


def test_snippets_escape_html_and_mark_the_words(make_engine: EngineClass) -> None:
    engine = make_engine()
    engine.replace_all(
        [doc("page:a.md", 'Déjà vu: <script>alert("x")</script> then the canary sings')]
    )
    hit = engine.search(SearchQuery("canary", frozenset({"everyone"}))).hits[0]
    assert hit.snippet == (
        "Déjà vu: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; then the "
        "<mark>canary</mark> sings"
    )


def test_front_matter_boost_multiplies_the_score(make_engine: EngineClass) -> None:
    engine = make_engine()
    engine.replace_all(
        [
            doc("page:plain.md", "the canary sings"),
            doc("page:boosted.md", "the canary sings", boost=2.0),
        ]
    )
    first, second = engine.search(SearchQuery("canary", frozenset({"everyone"}))).hits
    assert first.id == "page:boosted.md"
    assert first.score == pytest.approx(2 * second.score, rel=1e-3)


def test_title_and_heading_matches_rank_above_text_matches(make_engine: EngineClass) -> None:
    engine = make_engine()
    engine.replace_all(
        [
            doc("page:text.md", "something about rollbacks and more words here"),
            doc("page:heading.md", "other words entirely", heading="Rollbacks"),
        ]
    )
    found = engine.search(SearchQuery("rollback", frozenset({"everyone"})))
    assert ids(found) == ["page:heading.md", "page:text.md"]


def test_an_update_reindexes_one_document_and_removes_another(
    repo_docs: list[SearchDoc], everyone: frozenset[str], make_engine: EngineClass
) -> None:
    engine = make_engine()
    engine.replace_all(repo_docs)
    indexed = engine.digests()
    assert indexed == {d.id: d.digest for d in repo_docs}
    canary = next(d for d in repo_docs if d.id == "page:operations/deployment.md#canary")
    edited = dataclasses.replace(canary, text="Canaries now sing about zeppelins.")
    docs = [edited if d is canary else d for d in repo_docs if d.id != "entity:group:default/sre"]
    removed, changed = changes(indexed, docs)
    assert (removed, changed) == (["entity:group:default/sre"], [edited])
    engine.update(removed, changed)
    assert ids(engine.search(SearchQuery("zeppelins", everyone))) == [edited.id]
    assert engine.search(SearchQuery('"growing share of requests"', everyone)).total == 0
    assert "entity:group:default/sre" not in ids(engine.search(SearchQuery("sre", everyone)))
    assert engine.digests() == {d.id: d.digest for d in docs}


def test_an_index_on_disk_is_reopened(tmp_path: Path, make_engine: EngineClass) -> None:
    engine = make_engine(tmp_path / "index")
    engine.replace_all([doc("page:a.md", "the canary sings")])
    del engine
    reopened = make_engine(tmp_path / "index")
    assert ids(reopened.search(SearchQuery("canary", frozenset({"everyone"})))) == ["page:a.md"]


# PostgreSQL keeps no folder: test_postgres_engine checks a table that is not its own.
@pytest.mark.parametrize("name", sorted(ENGINES))
def test_a_folder_that_is_not_an_index_is_left_alone(tmp_path: Path, name: str) -> None:
    make_engine = ENGINES[name]
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SearchError) as caught:
        make_engine(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: not a search index of the portal; refusing to reuse it"
    )
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
