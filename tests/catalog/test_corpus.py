"""Backstage's own example catalog, read from ../shared: every valid entity loads and relates."""

from __future__ import annotations

import pytest

from portal.catalog import EntityRef, LoadResult, Relation, load_catalog, parse_ref
from portal.settings import Settings
from tests.conftest import BACKSTAGE_EXAMPLES, CORPORA, formatted

pytestmark = pytest.mark.skipif(
    not BACKSTAGE_EXAMPLES.is_dir(), reason=f"corpus not found at {BACKSTAGE_EXAMPLES}"
)


@pytest.fixture(scope="module")
def examples() -> LoadResult:
    settings = Settings(root=BACKSTAGE_EXAMPLES, catalog_paths=["all.yaml", "acme-corp.yaml"])
    return load_catalog(settings)


def ref(text: str) -> EntityRef:
    return parse_ref(text)


def test_every_valid_example_loads_without_errors(examples: LoadResult) -> None:
    assert examples.report.errors == []
    kinds = examples.catalog.kinds()
    # The Location tree reaches every file listed by all.yaml and acme-corp.yaml.
    assert kinds == {
        "airesource": 3,
        "api": 10,
        "component": 13,
        "domain": 3,
        "group": 8,
        "location": 9,
        "resource": 1,
        "system": 3,
        "user": 17,
    }


def test_every_example_file_reached_through_locations_is_read(examples: LoadResult) -> None:
    read = {e.origin.display for e in examples.catalog}
    listed = {
        p.relative_to(BACKSTAGE_EXAMPLES).as_posix()
        for p in BACKSTAGE_EXAMPLES.rglob("*.yaml")
        if not p.name.endswith(".oas.yaml")
    }
    # No Location names these three, so following the tree must not reach them.
    unreferenced = {
        "components/invalid-component.yaml",
        "components/different-namespace.yaml",
        "ai-resources/company-ai-marketplace.yaml",
    }
    assert listed - unreferenced == read


def test_relations_are_derived_both_ways(examples: LoadResult) -> None:
    catalog = examples.catalog
    lookup = catalog.get(ref("component:artist-lookup"))
    assert lookup is not None
    assert Relation("ownedBy", ref("group:team-a")) in lookup.relations
    assert Relation("partOf", ref("system:artist-engagement-portal")) in lookup.relations
    assert Relation("dependsOn", ref("resource:artists-db")) in lookup.relations

    team_a = catalog.get(ref("group:team-a"))
    assert team_a is not None
    assert Relation("ownerOf", ref("component:artist-lookup")) in team_a.relations
    assert Relation("childOf", ref("group:backstage")) in team_a.relations
    assert Relation("hasMember", ref("user:breanna.davison")) in team_a.relations

    db = catalog.get(ref("resource:artists-db"))
    assert db is not None
    assert Relation("dependencyOf", ref("component:artist-lookup")) in db.relations

    ingestion = catalog.get(ref("component:wayback-archive-ingestion"))
    assert ingestion is not None
    assert Relation("partOf", ref("component:wayback-archive")) in ingestion.relations
    archive = catalog.get(ref("component:wayback-archive"))
    assert archive is not None
    assert Relation("hasPart", ref("component:wayback-archive-ingestion")) in archive.relations

    search = catalog.get(ref("component:wayback-search"))
    assert search is not None
    assert any(r.type == "consumesApi" for r in search.relations)

    artists = catalog.get(ref("domain:artists"))
    assert artists is not None
    assert Relation("partOf", ref("domain:audio")) in artists.relations

    playback = catalog.get(ref("domain:playback"))
    assert playback is not None
    assert Relation("ownedBy", ref("user:frank.tiernan")) in playback.relations


def test_relations_are_symmetric(examples: LoadResult) -> None:
    from portal.catalog import RELATION_PAIRS

    for entity in examples.catalog:
        for relation in entity.relations:
            target = examples.catalog.get(relation.target)
            if target is not None:
                assert Relation(RELATION_PAIRS[relation.type], entity.ref) in target.relations


def test_other_namespace_and_its_default() -> None:
    settings = Settings(
        root=BACKSTAGE_EXAMPLES,
        catalog_paths=["components/different-namespace.yaml", "acme-corp.yaml"],
    )
    result = load_catalog(settings)
    assert result.report.errors == []
    other = result.catalog.get(ref("component:alternative/different-namespace"))
    assert other is not None
    assert other.namespace == "alternative"
    # "default/team-a" names its namespace, so it resolves to the default one.
    assert Relation("ownedBy", ref("group:default/team-a")) in other.relations


def test_text_substitution_reads_the_relative_file(examples: LoadResult) -> None:
    webhook = examples.catalog.get(ref("api:petstore-webhook"))
    assert webhook is not None
    expected = (BACKSTAGE_EXAMPLES / "apis" / "petstore-webhook.oas.yaml").read_text()
    assert webhook.spec["definition"] == expected


def test_outside_urls_are_not_fetched_and_say_so(examples: LoadResult) -> None:
    spotify = examples.catalog.get(ref("api:spotify"))
    assert spotify is not None
    assert set(spotify.spec["definition"]) == {"$text"}
    messages = formatted(examples)
    assert any(
        m.startswith("apis/spotify-api.yaml:17:12: warning: spec.definition.$text: ")
        and "URL outside the allow-list" in m
        for m in messages
    ), messages


def test_dangling_owner_is_reported_with_position(examples: LoadResult) -> None:
    assert (
        "components/playback-order-component.yaml:12:10: warning: spec.owner: "
        "group:default/guest does not exist in the catalog"
    ) in formatted(examples)


def test_unknown_alpha_kind_is_kept_with_a_warning(examples: LoadResult) -> None:
    plugin = examples.catalog.get(ref("airesource:code-review-plugin"))
    assert plugin is not None
    assert any(
        m.startswith("ai-resources/code-review-plugin.yaml:2:7: warning: kind: unknown kind")
        for m in formatted(examples)
    )


def test_the_invalid_example_gets_one_precise_message_per_problem() -> None:
    settings = Settings(
        root=BACKSTAGE_EXAMPLES, catalog_paths=["components/invalid-component.yaml"]
    )
    result = load_catalog(settings)
    assert len(result.catalog) == 0
    assert formatted(result) == [
        "components/invalid-component.yaml:4:9: error: metadata.name: 'invalid component' is "
        "not a valid name (1-63 characters: letters and digits, with - _ . allowed between "
        "them, e.g. invalid-component)",
        "components/invalid-component.yaml:7:5: error: metadata.labels.goVersion: 'goVersion' "
        "is not a valid label key (an optional lowercase DNS prefix and '/', then 1-63 "
        "lowercase characters: letters and digits, with - _ . between them, e.g. go-version)",
        "components/invalid-component.yaml:11:7: error: metadata.tags[1]: 'go 1.15.3' is not "
        "a valid tag (1-63 characters of a-z 0-9 : + #, words joined by single dashes, "
        "e.g. go-1-15-3)",
    ]


def test_techdocs_sample_component_loads() -> None:
    root = CORPORA / "techdocs-documented-component"
    result = load_catalog(Settings(root=root, catalog_paths=["catalog-info.yaml"]))
    assert result.report.errors == []
    documented = result.catalog.get(ref("component:documented-component"))
    assert documented is not None
    assert documented.annotations["backstage.io/techdocs-ref"] == "dir:."
