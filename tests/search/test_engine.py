"""The search box's query language and the checks every engine shares."""

from __future__ import annotations

import pytest

from portal.search import SearchError, SearchQuery, parse_query
from portal.search.engine import normalize_owner


def test_words_phrases_and_filters() -> None:
    parsed = parse_query('kind:api owner:team-x tag:public "access token" refresh Rotation')
    assert parsed.words == ("refresh", "Rotation")
    assert parsed.phrases == (("access", "token"),)
    assert parsed.filters == {"kinds": ("api",), "owners": ("team-x",), "tags": ("public",)}


def test_a_filter_may_be_quoted_and_repeated() -> None:
    parsed = parse_query('tag:"blue-green" tag:canary type:page')
    assert parsed.filters == {"tags": ("blue-green", "canary"), "types": ("page",)}
    assert parsed.empty


def test_other_colons_are_words_and_an_open_quote_runs_to_the_end() -> None:
    parsed = parse_query('group:default/sre https://x.example "roll back')
    assert parsed.words == ("group:default/sre", "https://x.example")
    assert parsed.phrases == (("roll", "back"),)
    assert parse_query('"canary"').words == ("canary",)
    assert parse_query("kind:").words == ()


def test_typed_and_given_filters_add_up_and_owners_are_refs() -> None:
    query = SearchQuery("owner:sre deploy", frozenset({"operators"}), kinds=("Page",))
    parsed = query.parsed()
    assert parsed.words == ("deploy",)
    assert parsed.filters == {"kinds": ("page",), "owners": ("group:default/sre",)}
    assert normalize_owner("user:ops/kim") == "user:ops/kim"
    assert normalize_owner("group:Platform") == "group:default/platform"


@pytest.mark.parametrize(
    ("limit", "cursor", "message"),
    [
        (0, None, "limit must be between 1 and 100; got 0"),
        (101, None, "limit must be between 1 and 100; got 101"),
        (
            10,
            "abc",
            "cursor 'abc' is not one a search returned; "
            "leave it out to start from the first result",
        ),
        (
            10,
            "-5",
            "cursor '-5' is not one a search returned; leave it out to start from the first result",
        ),
    ],
)
def test_bad_limits_and_cursors_say_what_is_valid(
    limit: int, cursor: str | None, message: str
) -> None:
    with pytest.raises(SearchError) as caught:
        SearchQuery("x", frozenset({"everyone"}), limit=limit, cursor=cursor).offset()
    assert str(caught.value) == message


def test_a_cursor_is_an_offset() -> None:
    assert SearchQuery("x", frozenset(), cursor="20").offset() == 20
    assert SearchQuery("x", frozenset()).offset() == 0
