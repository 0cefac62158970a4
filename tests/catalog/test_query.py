"""The catalog query engine, checked against a brute-force reading of real catalogs."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.corpus import generate_catalog
from portal.catalog import Catalog, Entity, load_catalog
from portal.catalog.query import (  # and three private helpers, checked by property
    FACET_VALUES,
    FACETS,
    MAX_LIMIT,
    SORTS,
    CatalogIndex,
    Page,
    Query,
    QueryError,
    _bits,
    _flags,
    _ids,
)
from portal.exceptions import PortalError
from portal.settings import Settings
from tests.conftest import GROUP_A, REPO, MakeCatalog, component, write_files

# -- the oracle: what a query means, computed the slow, obvious way ----------------

WORD = re.compile(r"[^\W_]+")


def facet_values(entity: Entity, facet: str) -> set[str]:
    """The entity's values for ``facet``, read from its relations rather than its spec."""
    if facet == "kind":
        return {entity.ref.kind}
    if facet in ("type", "lifecycle"):
        value = entity.spec.get(facet)
        return {value.casefold()} if isinstance(value, str) else set()
    if facet == "tag":
        return {tag.casefold() for tag in entity.tags}
    if facet == "owner":
        return {str(ref) for ref in entity.related("ownedBy")}
    return {str(ref) for ref in entity.related("partOf") if ref.kind == "system"}


def names(entity: Entity) -> list[str]:
    owners = [ref.name for ref in entity.related("ownedBy")]
    systems = [ref.name for ref in entity.related("partOf") if ref.kind == "system"]
    return [entity.name.casefold(), *entity.tags, *owners, *systems]


@functools.cache
def tokens(entity: Entity) -> frozenset[str]:
    texts = [entity.title, entity.description, entity.kind, str(entity.spec.get("type", ""))]
    found = {token for text in [*texts, *names(entity)] for token in WORD.findall(text.casefold())}
    return frozenset(found | set(names(entity)))


def text_matches(catalog: Catalog, text: str) -> set[str]:
    """Refs of the entities every word of ``text`` matches."""
    matching = {str(e.ref) for e in catalog}
    for word in text.casefold().split():

        def having(prefix: str) -> set[str]:
            return {str(e.ref) for e in catalog if any(t.startswith(prefix) for t in tokens(e))}

        found = having(word)
        if not found and not WORD.fullmatch(word):
            found = {str(e.ref) for e in catalog}
            for part in WORD.findall(word):
                found &= having(part)
        matching &= found
    return matching


def matches(catalog: Catalog, query: Query, *, but: str | None = None) -> list[Entity]:
    """Entities matching every filter of ``query`` (but one facet's, if given)."""
    texts = text_matches(catalog, query.text)
    return [
        entity
        for entity in catalog
        if str(entity.ref) in texts
        and all(
            facet_values(entity, facet) & set(query.selected(facet))
            for facet in FACETS
            if facet != but and query.selected(facet)
        )
    ]


def sort_key(entity: Entity, sort: str) -> tuple[bool, str, str]:
    value: str | None
    if sort == "name":
        value = entity.ref.name
    elif sort == "title":
        value = entity.title.casefold()
    elif sort == "kind":
        value = entity.ref.kind
    elif sort in ("type", "lifecycle"):
        raw = entity.spec.get(sort)
        value = raw.casefold() if isinstance(raw, str) else None
    else:
        relation = "ownedBy" if sort == "owner" else "partOf"
        targets = [r for r in entity.related(relation) if sort == "owner" or r.kind == "system"]
        value = targets[0].short("group" if sort == "owner" else "system") if targets else None
    return (value is None, value or "", str(entity.ref))


def ordered(catalog: Catalog, query: Query) -> list[str]:
    found = sorted(matches(catalog, query), key=lambda e: sort_key(e, query.sort))
    return [str(e.ref) for e in (found[::-1] if query.order == "desc" else found)]


def expected_counts(catalog: Catalog, query: Query, facet: str) -> Counter[str]:
    """Each value's entities among those matching every filter but the facet's own."""
    return Counter(v for e in matches(catalog, query, but=facet) for v in facet_values(e, facet))


def check_facets(page: Page, catalog: Catalog, query: Query) -> None:
    """The page lists each facet's top values with the oracle's counts, and every selected one."""
    for facet in FACETS:
        counts = expected_counts(catalog, query, facet)
        selected = set(query.selected(facet))
        shown = page.facets[facet]
        assert [v.count for v in shown] == [counts[v.value] for v in shown], facet
        assert [v.selected for v in shown] == [v.value in selected for v in shown], facet
        assert shown == sorted(shown, key=lambda v: (-v.count, v.label.casefold(), v.value)), facet
        values = {v.value for v in shown}
        top = sorted(counts.values(), reverse=True)[:FACET_VALUES]
        least = top[-1] if len(top) == FACET_VALUES else 1
        assert selected <= values, facet
        assert {v for v, n in counts.items() if n > least} <= values, facet
        assert len(values - selected) <= FACET_VALUES, facet
        assert all(counts[v] >= least for v in values - selected), facet
        assert len({v for v in values if counts[v]}) >= min(len(counts), FACET_VALUES), facet


def walk(index: CatalogIndex, query: Query) -> Iterator[Page]:
    """Every page of ``query``, following next_cursor."""
    page = index.search(query)
    yield page
    while page.next_cursor is not None:
        page = index.search(Query(**{**as_dict(query), "cursor": page.next_cursor}))
        yield page


def as_dict(query: Query) -> dict[str, object]:
    return {name: getattr(query, name) for name in Query.__dataclass_fields__}


def refs(page: Page) -> list[str]:
    return [str(e.ref) for e in page.items]


# -- catalogs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A realistic catalog of 2,500 entities (bench.corpus), loaded from its YAML files."""
    root = tmp_path_factory.mktemp("corpus")
    generate_catalog(root, 2500, seed=7)
    result = load_catalog(Settings(root=root))
    assert result.report.problems == []
    return result.catalog


@pytest.fixture(scope="module")
def index(corpus: Catalog) -> CatalogIndex:
    return CatalogIndex(corpus)


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """3,000 components over 700 owners and 900 tags: facets counted the many-values way."""
    root = tmp_path_factory.mktemp("wide")
    documents = [
        component(
            f"svc-{i:04d}",
            owner=f"team-{i % 700}",
            system=f"sys-{i % 300}",
            lifecycle="experimental" if i % 5 == 0 else "production",
        ).replace("metadata:\n", f"metadata:\n  tags: [t{i % 900}, u{i % 7}]\n")
        for i in range(3000)
    ]
    write_files(root, {"catalog/all.yaml": "---\n".join(documents)})
    return load_catalog(Settings(root=root)).catalog


TEAM_B = GROUP_A.replace("team-a", "team-b")
SMALL = {
    "catalog/org.yaml": GROUP_A + "---\n" + TEAM_B,
    "catalog/payments.yaml": """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: payments-api
          title: Payments Gateway
          description: Takes card payments for the shop.
          tags: [java, pci]
        spec:
          type: service
          lifecycle: production
          owner: team-a
          system: shop
        """,
    "catalog/orders.yaml": """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: ordering
          title: Orders Service
          description: Keeps every order.
          tags: [python]
        spec:
          type: Service
          lifecycle: experimental
          owner: group:default/team-b
          system: system:shop
        """,
    "catalog/web.yaml": """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: storefront
          namespace: retail
          description: The shop's web site.
        spec:
          type: website
          lifecycle: production
          owner: group:default/team-a
        """,
    "catalog/system.yaml": """
        apiVersion: backstage.io/v1alpha1
        kind: System
        metadata:
          name: shop
        spec:
          owner: team-b
        """,
}


@pytest.fixture
def small(make_catalog: MakeCatalog) -> Catalog:
    result = make_catalog(SMALL)
    assert [p.severity for p in result.report.problems] == []
    return result.catalog


def search(catalog: Catalog, **fields: object) -> list[str]:
    page = CatalogIndex(catalog).search(Query(**fields, limit=MAX_LIMIT))
    return refs(page)


# -- filters ----------------------------------------------------------------------


def test_each_filter_selects_its_values(small: Catalog) -> None:
    assert search(small, kind=("Group",)) == ["group:default/team-a", "group:default/team-b"]
    assert search(small, type=("SERVICE",)) == [
        "component:default/ordering",
        "component:default/payments-api",
    ]
    assert search(small, lifecycle=("experimental",)) == ["component:default/ordering"]
    assert search(small, tag=("pci",)) == ["component:default/payments-api"]
    # Owners and systems as written any way that means the same entity.
    for owner in ("team-a", "group:team-a", "default/team-a", "Group:Default/Team-A"):
        assert search(small, owner=(owner,)) == [
            "component:default/payments-api",
            "component:retail/storefront",
        ]
    assert search(small, system=("shop",)) == [
        "component:default/ordering",
        "component:default/payments-api",
    ]
    # Groups have no lifecycle: they match no lifecycle filter.
    assert search(small, kind=("group",), lifecycle=("production",)) == []


def test_kinds_without_a_spec_still_have_owners_and_systems(make_catalog: MakeCatalog) -> None:
    template = (
        "apiVersion: example.com/v1\nkind: Template\nmetadata:\n  name: {name}\n"
        "spec:\n  owner: {owner}\n  system: shop\n  type: {type}\n"
    )
    result = make_catalog(
        {
            "catalog/org.yaml": GROUP_A,
            "catalog/a.yaml": template.format(name="starter", owner="team-a", type="python"),
            "catalog/b.yaml": template.format(name="broken", owner="team a", type="go"),
        }
    )
    index = CatalogIndex(result.catalog)
    page = index.search(Query(owner=("team-a",), system=("shop",), kind=("template",)))
    assert refs(page) == ["template:default/starter"]
    assert refs(index.search(Query(type=("go",)))) == ["template:default/broken"]
    owners = {v.value: v.count for v in index.search(Query()).facets["owner"]}
    assert owners == {"group:default/team-a": 1}  # 'team a' is no ref: no owner at all


def test_values_of_one_facet_are_ored_and_facets_anded(small: Catalog) -> None:
    assert search(small, tag=("pci", "python")) == [
        "component:default/ordering",
        "component:default/payments-api",
    ]
    assert search(small, tag=("pci", "python"), owner=("team-b",)) == ["component:default/ordering"]
    assert search(small, owner=("team-a", "team-b"), type=("website",)) == [
        "component:retail/storefront"
    ]


@pytest.mark.parametrize("facet", FACETS)
def test_each_filter_agrees_with_brute_force(
    corpus: Catalog, index: CatalogIndex, facet: str
) -> None:
    counts = Counter(v for e in corpus for v in facet_values(e, facet))
    common, rare = counts.most_common()[0][0], counts.most_common()[-1][0]
    for values in [(common,), (rare,), (common, rare)]:
        query = Query(**{facet: values}, sort="title", limit=MAX_LIMIT)
        pages = list(walk(index, query))
        assert pages[0].total == len(matches(corpus, query))
        assert [r for page in pages for r in refs(page)] == ordered(corpus, query)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": ("component",), "lifecycle": ("production",)},
        {"kind": ("component", "api"), "owner": ("team-orders",), "tag": ("java", "go")},
        {"type": ("service", "openapi"), "text": "pay"},
        {"system": ("payments", "orders"), "lifecycle": ("deprecated",)},
        {"kind": ("user",), "text": "a"},
        {"text": "the service of"},
        {"owner": ("no-such-team",), "kind": ("component",)},
    ],
)
def test_combined_filters_and_facets_agree_with_brute_force(
    corpus: Catalog, index: CatalogIndex, fields: dict[str, object]
) -> None:
    query = Query(**fields, limit=MAX_LIMIT)
    pages = list(walk(index, query))
    assert [r for page in pages for r in refs(page)] == ordered(corpus, query)
    assert pages[0].total == len(ordered(corpus, query))
    check_facets(pages[0], corpus, query)


# -- facets -----------------------------------------------------------------------


def test_facet_counts_leave_out_their_own_filter(small: Catalog) -> None:
    page = CatalogIndex(small).search(Query(tag=("pci",), kind=("component",)))
    assert page.total == 1
    tags = {v.value: (v.count, v.selected) for v in page.facets["tag"]}
    # The tag facet counts components of any tag; the kind facet, entities tagged pci.
    assert tags == {"java": (1, False), "pci": (1, True), "python": (1, False)}
    kinds = {v.value: (v.label, v.count, v.selected) for v in page.facets["kind"]}
    assert kinds == {"component": ("Component", 1, True)}


def test_facet_values_have_labels_and_keep_selected_values_at_zero(small: Catalog) -> None:
    query = Query(owner=("team-b", "group:other/team-z"), lifecycle=("production",))
    page = CatalogIndex(small).search(query)
    assert page.total == 0
    owners = [(v.value, v.label, v.count, v.selected) for v in page.facets["owner"]]
    assert owners == [
        ("group:default/team-a", "team-a", 2, False),
        ("group:other/team-z", "other/team-z", 0, True),
        ("group:default/team-b", "team-b", 0, True),
    ]
    assert page.facets["type"] == []  # no entity of team-b's or team-z's is in production
    systems = [(v.value, v.label) for v in CatalogIndex(small).search(Query()).facets["system"]]
    assert systems == [("system:default/shop", "shop")]


def test_facets_sort_by_count_then_label(small: Catalog) -> None:
    page = CatalogIndex(small).search(Query())
    assert [(v.label, v.count) for v in page.facets["kind"]] == [
        ("Component", 3),
        ("Group", 2),
        ("System", 1),
    ]
    # Spelled as the first entity by name spells it, compared ignoring case.
    assert [(v.value, v.label, v.count) for v in page.facets["type"]] == [
        ("service", "Service", 2),
        ("team", "team", 2),
        ("website", "website", 1),
    ]


def test_facets_list_the_top_values_and_every_selected_one(wide: Catalog) -> None:
    index = CatalogIndex(wide)
    page = index.search(Query())
    assert len(page.facets["owner"]) == FACET_VALUES
    assert len(page.facets["tag"]) == FACET_VALUES
    assert [v.label for v in page.facets["tag"][:7]] == [f"u{i}" for i in range(7)]
    assert "t899" not in {v.value for v in page.facets["tag"]}  # 3 entities: not in the top
    picked = index.search(Query(tag=("t899",)))
    assert picked.total == 3
    assert ("t899", 3, True) in [(v.value, v.count, v.selected) for v in picked.facets["tag"]]
    assert len(picked.facets["tag"]) == FACET_VALUES + 1


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"lifecycle": ("production",)},  # thousands of matches: one pass over all
        {"text": "svc 001"},  # a few: their ids one by one
        {"tag": ("u3", "t5"), "lifecycle": ("experimental",)},
        {"owner": ("team-7", "team-8"), "tag": ("u1",)},
    ],
)
def test_facets_of_many_values_agree_with_brute_force(
    wide: Catalog, fields: dict[str, object]
) -> None:
    query = Query(**fields)
    page = CatalogIndex(wide).search(query)
    assert page.total == len(matches(wide, query))
    check_facets(page, wide, query)


# -- free text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pay", ["component:default/payments-api"]),  # a prefix of a word of the name
        ("PAYMENTS gate", ["component:default/payments-api"]),  # every word, any case
        ("card", ["component:default/payments-api"]),  # the description
        ("pci", ["component:default/payments-api"]),  # a tag
        ("orders", ["component:default/ordering"]),  # the title
        ("team-b", ["component:default/ordering", "system:default/shop", "group:default/team-b"]),
        (
            "shop",  # the system, the name, the description
            [
                "component:default/ordering",
                "component:default/payments-api",
                "system:default/shop",
                "component:retail/storefront",
            ],
        ),
        ("website", ["component:retail/storefront"]),  # the type
        ("system", ["system:default/shop"]),  # the kind
        ("payments-a", ["component:default/payments-api"]),  # the whole name, as typed
        ("orders-service", ["component:default/ordering"]),  # no such name: its words
        ("pay & card", ["component:default/payments-api"]),  # punctuation asks nothing
        ("pay shop keeps", []),
        ("zebra", []),
    ],
)
def test_text_matches_word_prefixes(small: Catalog, text: str, expected: list[str]) -> None:
    assert search(small, text=text) == expected


@pytest.mark.parametrize(
    "text",
    ["pay", "ord serv", "j", "tier-1", "amelia.", "c++", "payments-api", "zzz", "the of"],
)
def test_text_agrees_with_brute_force(corpus: Catalog, index: CatalogIndex, text: str) -> None:
    query = Query(text=text, limit=MAX_LIMIT)
    assert [r for page in walk(index, query) for r in refs(page)] == ordered(corpus, query)


# -- sorting and pages ------------------------------------------------------------


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_reads_in_order(
    corpus: Catalog, index: CatalogIndex, sort: str, order: str
) -> None:
    query = Query(sort=sort, order=order, limit=MAX_LIMIT)
    pages = list(walk(index, query))
    assert [r for page in pages for r in refs(page)] == ordered(corpus, query)
    assert len(pages) == -(-len(corpus) // MAX_LIMIT)


def test_entities_without_the_value_sort_last_ascending(small: Catalog) -> None:
    assert search(small, sort="lifecycle") == [
        "component:default/ordering",  # experimental
        "component:default/payments-api",  # production, then by ref
        "component:retail/storefront",
        "group:default/team-a",  # no lifecycle
        "group:default/team-b",
        "system:default/shop",
    ]
    assert search(small, sort="lifecycle", order="desc")[:3] == [
        "system:default/shop",
        "group:default/team-b",
        "group:default/team-a",
    ]
    assert search(small, sort="title") == [
        "component:default/ordering",  # "Orders Service"
        "component:default/payments-api",  # "Payments Gateway"
        "system:default/shop",
        "component:retail/storefront",
        "group:default/team-a",
        "group:default/team-b",
    ]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pages_read_every_match_once_in_order_both_ways(
    corpus: Catalog, index: CatalogIndex, data: st.DataObject
) -> None:
    values = {
        facet: sorted({v for e in corpus for v in facet_values(e, facet)}) for facet in FACETS
    }
    filters = {
        facet: tuple(data.draw(st.lists(st.sampled_from(values[facet]), max_size=3)))
        for facet in data.draw(st.lists(st.sampled_from(FACETS), max_size=2, unique=True))
    }
    text = data.draw(st.sampled_from(["", "", "a", "pay", "s", "team", "of the"]))
    sort = data.draw(st.sampled_from(SORTS))
    order = data.draw(st.sampled_from(["asc", "desc"]))
    query = Query(**filters, text=text, sort=sort, order=order)
    expected = ordered(corpus, query)
    # Small pages, but not so many that walking them both ways takes long.
    limit = max(data.draw(st.sampled_from([1, 3, 10, 25, 200])), -(-len(expected) // 40))
    query = Query(**{**as_dict(query), "limit": limit})

    pages = list(walk(index, query))
    assert [r for page in pages for r in refs(page)] == expected
    assert all(page.total == len(expected) for page in pages)
    assert all(len(page.items) == limit for page in pages[:-1])
    assert pages[0].prev_cursor is None
    # Back from the last page, each previous page is the one read before it.
    page = pages[-1]
    for earlier in reversed(pages[:-1]):
        assert page.prev_cursor is not None
        page = index.search(Query(**{**as_dict(query), "cursor": page.prev_cursor}))
        assert refs(page) == refs(earlier)
        assert page.next_cursor is not None
    assert page.prev_cursor is None


def test_cursors_keep_their_place_when_entities_come_and_go(
    corpus: Catalog, index: CatalogIndex
) -> None:
    query = Query(kind=("component",), sort="owner", limit=10)
    first = index.search(query)
    second = index.search(Query(**{**as_dict(query), "cursor": first.next_cursor}))
    # Remove the page's last item (the cursor's own entity) and one of the next page.
    gone = {first.items[-1].ref, second.items[3].ref}
    changed = CatalogIndex(Catalog({e.ref: e for e in corpus if e.ref not in gone}))
    again = changed.search(Query(**{**as_dict(query), "cursor": first.next_cursor}))
    assert refs(again)[:9] == [r for r in refs(second) if r != str(second.items[3].ref)]
    assert again.total == first.total - 2


def test_previous_page_is_filled_when_entities_before_it_go(small: Catalog) -> None:
    index = CatalogIndex(small)
    second = index.search(Query(limit=2, cursor=index.search(Query(limit=2)).next_cursor))
    assert refs(second) == ["system:default/shop", "component:retail/storefront"]
    assert second.prev_cursor is not None
    # The first page loses an entity: "previous" shows a whole first page, not one item.
    fewer = Catalog({e.ref: e for e in small if e.name != "ordering"})
    back = CatalogIndex(fewer).search(Query(limit=2, cursor=second.prev_cursor))
    assert refs(back) == ["component:default/payments-api", "system:default/shop"]
    assert back.prev_cursor is None
    assert back.next_cursor is not None


def test_reading_past_the_end_leads_back(small: Catalog) -> None:
    index = CatalogIndex(small)
    last = list(walk(index, Query(limit=4)))[-1]
    cursor = index.search(Query(limit=4)).next_cursor
    fewer = CatalogIndex(Catalog({e.ref: e for e in small if e.ref.kind == "component"}))
    empty = fewer.search(Query(limit=4, cursor=cursor))
    assert (empty.items, empty.total, empty.next_cursor) == ([], 3, None)
    assert empty.prev_cursor is not None
    assert refs(fewer.search(Query(limit=4, cursor=empty.prev_cursor))) == refs(
        fewer.search(Query(limit=4))
    )
    assert refs(last) == ["group:default/team-a", "group:default/team-b"]


def test_an_empty_catalog_has_one_empty_page() -> None:
    page = CatalogIndex(Catalog({})).search(Query(text="x", kind=("api",)))
    assert (page.items, page.total, page.next_cursor, page.prev_cursor) == ([], 0, None, None)
    assert page.facets["kind"][0].count == 0
    assert len(CatalogIndex(Catalog({}))) == 0


# -- the portal's own catalog -------------------------------------------------------


def test_the_repository_catalog() -> None:
    catalog = load_catalog(Settings(root=REPO)).catalog
    index = CatalogIndex(catalog)
    assert len(index) == len(catalog)
    for query in [Query(), Query(kind=("component",), sort="system"), Query(text="auth")]:
        page = index.search(query)
        check_facets(page, catalog, query)
        assert [r for p in walk(index, query) for r in refs(p)] == ordered(catalog, query)
    found = refs(index.search(Query(text="auth", kind=("component",))))
    assert "component:default/auth-service" in found


# -- queries from URLs, and every bad input -------------------------------------------


def test_parse_query_reads_url_parameters() -> None:
    query = CatalogIndex.parse_query(
        {
            "kind": ["Component", "api", "component"],
            "owner": "team-a",
            "tag": [""],  # a blank form field
            "q": "pay",
            "sort": ["title"],
            "order": "desc",
            "limit": "50",
            "utm_source": "mail",  # not ours
        }
    )
    assert query == Query(
        kind=("api", "component"),
        owner=("group:default/team-a",),
        text="pay",
        sort="title",
        order="desc",
        limit=50,
    )
    assert CatalogIndex.parse_query({}) == Query()
    assert CatalogIndex.parse_query({"text": "pay"}).text == "pay"


def test_queries_that_mean_the_same_are_equal() -> None:
    assert Query(owner=("team-a", "group:default/team-a"), kind=("API", "Component")) == Query(
        owner=("group:team-a",), kind=("component", "api")
    )


def other_sort_cursor(index: CatalogIndex) -> str:
    cursor = index.search(Query(sort="title", limit=1)).next_cursor
    assert cursor is not None
    return cursor


def tampered(cursor: str) -> str:
    data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    edited = data.replace(b'"after"', b'"before"')
    return base64.urlsafe_b64encode(edited).rstrip(b"=").decode()


def signed(fields: list[object]) -> str:
    """A cursor as the portal signs them: a 6-byte BLAKE2b digest, then compact JSON."""
    payload = json.dumps(fields, separators=(",", ":")).encode()
    digest = hashlib.blake2b(payload, digest_size=6, person=b"portal-cursor").digest()
    return base64.urlsafe_b64encode(digest + payload).rstrip(b"=").decode()


def forged() -> str:
    payload = json.dumps([1, "name", "asc", "after", None, "component:default/x"]).encode()
    return base64.urlsafe_b64encode(bytes(6) + payload).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": "0"}, "limit", "0 is out of range; expected 1 to 200"),
        ({"limit": "201"}, "limit", "201 is out of range; expected 1 to 200"),
        ({"limit": "ten"}, "limit", "'ten' is not a whole number from 1 to 200"),
        ({"limit": "-1"}, "limit", "'-1' is not a whole number from 1 to 200"),
        ({"limit": "9" * 5000}, "limit", "is not a whole number from 1 to 200"),
        ({"limit": ["5", "6"]}, "limit", "is given 2 times; give it once"),
        ({"sort": "size"}, "sort", "'size' is not a sort; expected one of name, title, kind,"),
        ({"order": "up"}, "order", "'up' is not an order; expected asc or desc"),
        ({"q": "a", "text": "b"}, "text", "is given 2 times; give it once"),
        ({"q": "x" * 201}, "text", "expected text of at most 200 characters"),
        (
            {"owner": "team a"},
            "owner",
            "'team a' is not an entity ref: it has an invalid name 'team a'",
        ),
        ({"owner": "group:"}, "owner", "e.g. team-a or group:default/team-a"),
        ({"system": "/shop"}, "system", "'/shop' is not an entity ref: it has an empty namespace"),
        ({"cursor": "not a cursor!"}, "cursor", "is not a cursor (expected base64url text)"),
        ({"cursor": "abcde"}, "cursor", "has been changed or cut short"),
        ({"cursor": "QUJD"}, "cursor", "has been changed or cut short"),
        ({"cursor": forged()}, "cursor", "has been changed or cut short"),
        (
            {"cursor": signed([2, "name", "asc", "after", None, "component:default/x"])},
            "cursor",
            "was made by another version of the portal",
        ),
        ({"cursor": signed(["not", "a", "list of six"])}, "cursor", "another version"),
        ({"cursor": signed([1, "name", "asc", "after", None, "Bad Ref"])}, "cursor", "another"),
    ],
)
def test_bad_parameters_name_the_field_and_say_why(
    params: dict[str, str | list[str]], field: str, message: str
) -> None:
    with pytest.raises(QueryError) as info:
        CatalogIndex.parse_query(params)
    assert info.value.field == field
    assert message in info.value.message
    assert str(info.value) == f"{field}: {info.value.message}"


def test_bad_cursors_name_the_cursor_and_say_why(index: CatalogIndex) -> None:
    cursor = other_sort_cursor(index)
    with pytest.raises(QueryError) as info:
        CatalogIndex.parse_query({"cursor": cursor})
    assert (info.value.field, info.value.message) == (
        "cursor",
        "was made for sort=title&order=asc, not sort=name&order=asc; start again without a cursor",
    )
    with pytest.raises(QueryError, match="was made for sort=title&order=asc, not sort=title"):
        Query(sort="title", order="desc", cursor=cursor)
    with pytest.raises(QueryError, match="has been changed or cut short"):
        Query(sort="title", cursor=tampered(cursor))
    with pytest.raises(QueryError, match="has been changed or cut short"):
        Query(sort="title", cursor=cursor[:-3])
    assert index.search(Query(sort="title", cursor=cursor)).total == len(index)
    # The format the tests sign is the portal's own.
    first = index.search(Query(limit=1)).items[0]
    cursor = signed([1, "name", "asc", "after", first.ref.name, str(first.ref)])
    assert index.search(Query(limit=1, cursor=cursor)).items[0] != first


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"limit": 0}, "limit", "0 is out of range"),
        ({"limit": True}, "limit", "expected a whole number from 1 to 200, got a boolean"),
        ({"kind": ("",)}, "kind", "expected non-empty text, got ''"),
        ({"tag": (3,)}, "tag", "expected non-empty text, got a number"),
        ({"system": 3}, "system", "expected a list of values, got a number"),
        ({"owner": ("user:",)}, "owner", "is not an entity ref"),
        ({"order": "ASC"}, "order", "'ASC' is not an order"),
    ],
)
def test_bad_queries_built_in_code_are_refused(
    fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(QueryError) as info:
        Query(**fields)
    assert info.value.field == field
    assert message in info.value.message


def test_query_errors_are_portal_errors_and_value_errors() -> None:
    with pytest.raises(QueryError) as info:
        Query(limit=500)
    assert isinstance(info.value, PortalError)
    assert isinstance(info.value, ValueError)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 6000), step=st.sampled_from([1, 2, 3, 7, 50, 400]), data=st.data())
def test_bitsets_hold_exactly_their_ids(size: int, step: int, data: st.DataObject) -> None:
    """The id sets every page and count is read from, sparse or dense."""
    scattered = data.draw(st.sets(st.integers(0, size - 1), max_size=50)) if size else set()
    ids = sorted(set(range(data.draw(st.integers(0, step)), size, step)) | scattered)
    bits = _bits(ids, size)
    assert bits.bit_count() == len(ids)
    assert _ids(bits, len(ids), size) == ids
    assert [i for i, flag in enumerate(_flags(bits, size)) if flag] == ids
