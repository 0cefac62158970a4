"""The snippet shown under a hit: the stretch with the most of the query's terms, marked."""

from __future__ import annotations

import re

from portal.search.ranking import SNIPPET_CHARS, snippet

PREFIXES = ["deploy", "canary"]


def term_of(word: str) -> str | None:
    """deploy, deploys, deployed, deployment stand for 'deploy'; deployable does not."""
    if word in ("deploy", "deploys", "deployed", "deployment"):
        return "deploy"
    return "canary" if word == "canary" else None


def test_the_window_with_most_distinct_terms_wins_and_is_marked() -> None:
    filler = "word " * 60
    text = f"A deployment first. {filler} Then a canary deploys here. {filler} The end."
    marked = snippet(text, PREFIXES, term_of)
    assert "<mark>canary</mark> <mark>deploys</mark>" in marked
    assert "deployment first" not in marked  # one term there, two here
    plain = re.sub("</?mark>", "", marked)
    assert len(plain) <= SNIPPET_CHARS
    assert plain == plain.strip() and plain.split()[0] == "word"  # cut at words


def test_words_that_only_share_a_prefix_are_not_marked() -> None:
    marked = snippet("Deployable units; deployed by CI.", PREFIXES, term_of)
    assert marked == "Deployable units; <mark>deployed</mark> by CI."


def test_nothing_matching_gives_nothing_and_html_is_escaped() -> None:
    assert snippet("No match <b>here</b>", PREFIXES, term_of) == ""
    marked = snippet('<script>alert("x")</script>\n\n  the CANARY', PREFIXES, term_of)
    assert marked == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; the <mark>CANARY</mark>"
