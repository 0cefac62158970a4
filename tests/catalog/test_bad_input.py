"""Every kind of bad or hostile catalog input gets a clear, positioned message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.catalog import parse_ref
from tests.conftest import GROUP_A, MakeCatalog, api, component, formatted

HEADER = "apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n"


def test_invalid_yaml_is_reported_at_the_problem(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/a.yaml": "kind: Component\nmetadata: [unclosed\n"})
    assert formatted(result) == [
        "catalog/a.yaml:3:1: error: invalid YAML: did not find expected ',' or ']' "
        "while parsing a flow sequence"
    ]
    assert len(result.catalog) == 0


def test_one_bad_file_does_not_hide_the_others(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {
            "catalog/bad.yaml": "key: [\n",
            "catalog/good.yaml": component(),
            "catalog/team.yaml": GROUP_A,
        }
    )
    assert [p.file for p in result.report.errors] == ["catalog/bad.yaml"]
    assert parse_ref("component:orders") in result.catalog


def test_non_utf8_bytes_name_their_line(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/a.yaml": b"kind: Component\nmetadata:\n  name: caf\xe9\n"})
    assert formatted(result) == [
        "catalog/a.yaml:3:12: error: file is not valid UTF-8 (byte 0xe9); save it as UTF-8"
    ]


def test_empty_file_is_a_warning(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/empty.yaml": ""})
    assert formatted(result) == [
        "catalog/empty.yaml:1:1: warning: holds no entities (the file is empty)"
    ]


def test_document_that_is_not_a_mapping(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {"catalog/list.yaml": GROUP_A + "---\n- just\n- a list\n---\nplain text\n"}
    )
    assert formatted(result) == [
        "catalog/list.yaml:9:1: error: a catalog document must be a mapping of apiVersion, "
        "kind, metadata and spec; this one is a list",
        "catalog/list.yaml:12:1: error: a catalog document must be a mapping of apiVersion, "
        "kind, metadata and spec; this one is 'plain text'",
    ]
    assert len(result.catalog) == 1


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_quickly(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/bomb.yaml": BILLION_LAUGHS})
    (problem,) = result.report.problems
    assert problem.format().startswith(
        "catalog/bomb.yaml:6:4: error: document expands to more than 200,000 nodes through aliases"
    )


def test_ordinary_anchors_and_merge_keys_still_work(make_catalog: MakeCatalog) -> None:
    shared = """\
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: copy
      tags: &tags [web, java]
      labels:
        tier: one
    spec:
      <<: &defaults {type: service, lifecycle: production, owner: team-a}
      lifecycle: experimental
      x-tags: *tags
    """
    result = make_catalog({"catalog/a.yaml": shared, "catalog/team.yaml": GROUP_A})
    assert result.report.problems == []
    copy = result.catalog.get(parse_ref("component:copy"))
    assert copy is not None
    assert copy.spec["lifecycle"] == "experimental"
    assert copy.spec["owner"] == "team-a"


def test_file_over_the_size_limit(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/big.yaml": "# padding\n" * 200}, max_file_bytes=1000)
    assert formatted(result) == [
        "catalog/big.yaml:1:1: error: file is 2,000 bytes, over the limit of 1,000 bytes "
        "(PORTAL_MAX_FILE_BYTES)"
    ]


DEEP = "document nests more than 100 levels of mappings and lists"


@pytest.mark.parametrize(
    "text",
    [
        # Deep enough to crash libyaml's recursive composer where libyaml has no guard.
        "a: " + "[" * 200_000 + "]" * 200_000 + "\n",
        "- " * 20_000 + "x\n",
        # Small files, below the size at which the event scan runs.
        "[" * 500 + "]" * 500 + "\n",
        "- " * 150 + "x\n",
    ],
    ids=["huge-flow", "huge-block", "small-flow", "small-block"],
)
def test_deep_nesting_is_refused_not_crashed(make_catalog: MakeCatalog, text: str) -> None:
    result = make_catalog({"catalog/deep.yaml": text})
    (problem,) = result.report.problems
    assert (problem.file, problem.line, problem.message) == ("catalog/deep.yaml", 1, DEEP)


def test_nesting_up_to_the_limit_is_fine(make_catalog: MakeCatalog) -> None:
    deep = "[" * 90 + "]" * 90
    result = make_catalog(
        {"catalog/a.yaml": component(**{"x-deep": deep}), "catalog/team.yaml": GROUP_A}
    )
    assert result.report.problems == []


@pytest.mark.parametrize(
    ("tag", "line"),
    [
        ("!include other.yaml", "!include"),
        (
            "!!python/object/apply:os.system ['true']",
            "tag:yaml.org,2002:python/object/apply:os.system",
        ),
    ],
)
def test_custom_tags_are_refused(make_catalog: MakeCatalog, tag: str, line: str) -> None:
    result = make_catalog({"catalog/tag.yaml": f"apiVersion: backstage.io/v1alpha1\nspec: {tag}\n"})
    assert formatted(result) == [
        f"catalog/tag.yaml:2:7: error: unsupported YAML tag {line!r}: catalog files take "
        "plain YAML, without custom tags"
    ]


def test_unknown_kind_is_kept_with_a_warning(make_catalog: MakeCatalog) -> None:
    template = """\
    apiVersion: scaffolder.backstage.io/v1beta3
    kind: Template
    metadata:
      name: springboot-template
    spec:
      owner: team-a
    """
    result = make_catalog({"catalog/template.yaml": template})
    assert formatted(result) == [
        "catalog/template.yaml:2:7: warning: kind: unknown kind 'Template': the entity is "
        "kept without kind-specific checks (known kinds: API, Component, Domain, Group, "
        "Location, Resource, Scorecard, System, User)"
    ]
    assert parse_ref("template:springboot-template") in result.catalog


def test_missing_top_level_fields(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/a.yaml": "spec: {}\n"})
    assert formatted(result) == [
        "catalog/a.yaml:1:1: error: apiVersion is required (e.g. backstage.io/v1alpha1)",
        "catalog/a.yaml:1:1: error: kind is required (e.g. Component, API, System, Group)",
        "catalog/a.yaml:1:1: error: metadata is required: a mapping with at least a name",
    ]


def test_wrong_api_version_for_a_known_kind(make_catalog: MakeCatalog) -> None:
    text = component().replace("backstage.io/v1alpha1", "backstage.io/v2")
    result = make_catalog({"catalog/a.yaml": text, "catalog/team.yaml": GROUP_A})
    assert formatted(result) == [
        "catalog/a.yaml:1:13: error: apiVersion: 'backstage.io/v2' is not an apiVersion of "
        "kind Component (expected backstage.io/v1alpha1 or backstage.io/v1beta1)"
    ]


def test_missing_required_spec_fields_are_all_reported(make_catalog: MakeCatalog) -> None:
    text = HEADER.format(kind="Component", name="x") + "spec:\n  system: s\n"
    result = make_catalog({"catalog/a.yaml": text})
    assert formatted(result) == [
        "catalog/a.yaml:6:3: error: spec: type is required for kind Component "
        "(e.g. service, website, library)",
        "catalog/a.yaml:6:3: error: spec: lifecycle is required for kind Component "
        "(e.g. experimental, production, deprecated)",
        "catalog/a.yaml:6:3: error: spec: owner is required for kind Component",
    ]


def test_bad_refs_name_the_field_and_a_valid_example(make_catalog: MakeCatalog) -> None:
    text = component(owner="'team a'", dependsOn="[orders-db, 'resource:']")
    result = make_catalog({"catalog/a.yaml": text})
    assert formatted(result) == [
        "catalog/a.yaml:8:10: error: spec.owner: 'team a' is not a valid entity ref: it has "
        "an invalid name 'team a' (1-63 characters: letters and digits, with - _ . allowed "
        "between them) (expected [kind:][namespace/]name, e.g. group:default/my-name)",
        "catalog/a.yaml:9:15: error: spec.dependsOn[0]: 'orders-db' is not a valid entity "
        "ref: it names no kind, and this field has no default kind (expected "
        "[kind:][namespace/]name, e.g. resource:default/orders-db)",
        "catalog/a.yaml:9:26: error: spec.dependsOn[1]: 'resource:' is not a valid entity "
        "ref: it has an invalid name '' (1-63 characters: letters and digits, with - _ . "
        "allowed between them) (expected [kind:][namespace/]name, e.g. "
        "resource:default/orders-db)",
    ]


def test_wrong_types_in_metadata(make_catalog: MakeCatalog) -> None:
    text = """\
    apiVersion: backstage.io/v1alpha1
    kind: Group
    metadata:
      name: team-a
      namespace: Team_Space
      title: [not, text]
      annotations:
        example.com/port: 8080
        "bad key!": x
      links:
        - title: no url
        - url: not a url
      tags: web
    spec:
      type: team
      children: []
    """
    result = make_catalog({"catalog/a.yaml": text})
    assert formatted(result) == [
        "catalog/a.yaml:5:14: error: metadata.namespace: 'Team_Space' is not a valid "
        "namespace (a lowercase DNS label: 1-63 characters of a-z, 0-9 and -, starting and "
        "ending with a letter or digit, e.g. team-space)",
        "catalog/a.yaml:6:10: error: metadata.title: expected text, got a list",
        "catalog/a.yaml:8:23: error: metadata.annotations['example.com/port']: expected "
        "text, got a number (quote it: '8080')",
        "catalog/a.yaml:9:5: error: metadata.annotations['bad key!']: 'bad key!' is not a "
        "valid annotation key (an optional lowercase DNS prefix and '/', then 1-63 "
        "characters: letters and digits, with - _ . between them, e.g. bad-key)",
        "catalog/a.yaml:11:7: error: metadata.links[0]: url is required",
        "catalog/a.yaml:12:12: error: metadata.links[1].url: 'not a url' is not a valid link "
        "URL (expected http(s)://host/..., mailto: or tel:)",
        "catalog/a.yaml:13:9: error: metadata.tags: expected a list of tags, got 'web'",
    ]


def test_duplicate_names_name_both_files(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {
            "catalog/a.yaml": component("Orders"),
            "catalog/b.yaml": component("orders"),
            "catalog/team.yaml": GROUP_A,
        }
    )
    assert formatted(result) == [
        "catalog/b.yaml:4:9: error: metadata.name: component:default/orders is already "
        "defined at catalog/a.yaml:4:9 (names are unique per kind and namespace, ignoring "
        "case); this one is ignored"
    ]
    kept = result.catalog.get(parse_ref("component:orders"))
    assert kept is not None and kept.origin.display == "catalog/a.yaml"


def test_same_name_in_another_kind_or_namespace_is_fine(make_catalog: MakeCatalog) -> None:
    other_ns = component("orders").replace("name: orders", "name: orders\n  namespace: shop")
    other_ns = other_ns.replace("owner: team-a", "owner: default/team-a")
    result = make_catalog(
        {
            "catalog/a.yaml": component("orders"),
            "catalog/b.yaml": other_ns,
            "catalog/team.yaml": GROUP_A,
        }
    )
    assert result.report.problems == []
    assert len(result.catalog) == 3


def test_dangling_ref_names_file_and_line(make_catalog: MakeCatalog) -> None:
    result = make_catalog({"catalog/a.yaml": component(owner="team-x")})
    assert formatted(result) == [
        "catalog/a.yaml:8:10: warning: spec.owner: group:default/team-x does not exist "
        "in the catalog"
    ]


# -- $text / $json / $yaml and Location targets may not leave the repository --------


@pytest.mark.parametrize(
    ("placeholder", "content", "expected"),
    [
        ("$text: ./def.yml", "openapi: 3.0.0\n", "openapi: 3.0.0\n"),
        ("$json: ./def.json", '{"openapi": "3.1.0"}', {"openapi": "3.1.0"}),
        ("$yaml: ./def.yml", "openapi: 3.0.0\n", {"openapi": "3.0.0"}),
    ],
)
def test_placeholders_read_relative_files(
    make_catalog: MakeCatalog, placeholder: str, content: str, expected: object
) -> None:
    name = placeholder.split("./")[1]
    result = make_catalog(
        {
            "catalog/apis/a.yaml": api(placeholder),
            f"catalog/apis/{name}": content,
            "catalog/team.yaml": GROUP_A,
        }
    )
    assert result.report.problems == []
    entity = result.catalog.get(parse_ref("api:orders-api"))
    assert entity is not None and entity.spec["definition"] == expected


def test_placeholder_escaping_the_root_is_refused(
    make_catalog: MakeCatalog, tmp_path: Path
) -> None:
    (tmp_path.parent / "secret.txt").write_text("secret")
    result = make_catalog(
        {"catalog/a.yaml": api("$text: ../../secret.txt"), "catalog/team.yaml": GROUP_A}
    )
    (problem,) = result.report.problems
    assert problem.format().startswith(
        "catalog/a.yaml:10:12: error: spec.definition.$text: '../../secret.txt' leaves the "
        "repository (resolves outside"
    )


def test_placeholder_with_absolute_path_is_refused(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {"catalog/a.yaml": api("$text: /etc/passwd"), "catalog/team.yaml": GROUP_A}
    )
    assert formatted(result) == [
        "catalog/a.yaml:10:12: error: spec.definition.$text: '/etc/passwd' is an absolute "
        "path; write a path relative to this file, inside the repository"
    ]


def test_symlink_out_of_the_root_is_refused(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside.yml"
    outside.write_text("secret")
    (tmp_path / "catalog").mkdir()
    os.symlink(outside, tmp_path / "catalog" / "def.yml")
    result = make_catalog({"catalog/a.yaml": api("$text: ./def.yml"), "catalog/team.yaml": GROUP_A})
    (problem,) = result.report.problems
    assert "'./def.yml' leaves the repository through a symlink" in problem.message


def test_missing_placeholder_file(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {"catalog/a.yaml": api("$text: ./nope.yml"), "catalog/team.yaml": GROUP_A}
    )
    assert formatted(result) == [
        "catalog/a.yaml:10:12: error: spec.definition.$text: './nope.yml': no such file "
        "(catalog/nope.yml)"
    ]


def test_invalid_json_placeholder(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {
            "catalog/a.yaml": api("$json: ./d.json"),
            "catalog/d.json": "{nope",
            "catalog/team.yaml": GROUP_A,
        }
    )
    (problem,) = result.report.problems
    assert problem.format().startswith(
        "catalog/a.yaml:10:12: error: spec.definition.$json: './d.json' is not valid JSON:"
    )


def test_url_placeholder_is_not_fetched_unless_allow_listed(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {"catalog/a.yaml": api("$text: https://example.com/api.yaml"), "catalog/team.yaml": GROUP_A}
    )
    assert formatted(result) == [
        "catalog/a.yaml:10:12: warning: spec.definition.$text: 'https://example.com/api.yaml' "
        "is a URL outside the allow-list, so it is not fetched (allow its prefix in "
        "PORTAL_CATALOG_ALLOWED_URLS)"
    ]


LOCATION = """\
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: more
spec:
  targets:
{targets}
"""


def location(*targets: str) -> str:
    return LOCATION.format(targets="\n".join(f"    - {t}" for t in targets))


def test_location_targets_and_globs_are_followed(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {
            "catalog/all.yaml": location("../teams/*.yaml", "../services/orders.yaml"),
            "teams/a.yaml": GROUP_A,
            "services/orders.yaml": component(),
        }
    )
    assert result.report.problems == []
    assert {str(e.ref) for e in result.catalog} == {
        "location:default/more",
        "group:default/team-a",
        "component:default/orders",
    }


def test_location_target_problems(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {
            "catalog/all.yaml": location(
                "./missing.yaml", "/abs.yaml", "../../x.yaml", "./none-*.yaml"
            )
        }
    )
    messages = formatted(result)
    assert (
        messages[0]
        == "catalog/all.yaml:7:7: error: spec.targets[0]: no such file: catalog/missing.yaml"
    )
    assert messages[1] == (
        "catalog/all.yaml:8:7: error: spec.targets[1]: '/abs.yaml' is an absolute path; write "
        "a path relative to this file, inside the repository"
    )
    assert messages[2].startswith(
        "catalog/all.yaml:9:7: error: spec.targets[2]: '../../x.yaml' leaves the repository"
    )
    assert messages[3] == (
        "catalog/all.yaml:10:7: warning: spec.targets[3]: './none-*.yaml' matches no file"
    )


def test_optional_location_target_may_be_missing(make_catalog: MakeCatalog) -> None:
    text = location("./missing.yaml").replace("spec:\n", "spec:\n  presence: optional\n")
    result = make_catalog({"catalog/all.yaml": text})
    assert result.report.problems == []


def test_location_without_target(make_catalog: MakeCatalog) -> None:
    text = HEADER.format(kind="Location", name="x") + "spec:\n  type: file\n"
    result = make_catalog({"catalog/all.yaml": text})
    assert formatted(result) == [
        "catalog/all.yaml:6:3: error: spec: a Location needs spec.target or spec.targets"
    ]


def test_file_read_twice_through_locations_is_loaded_once(make_catalog: MakeCatalog) -> None:
    result = make_catalog(
        {"catalog/all.yaml": location("./team.yaml", "./*.yaml"), "catalog/team.yaml": GROUP_A}
    )
    assert result.report.problems == []
    assert len(result.catalog) == 2


def test_no_catalog_file_matches(make_catalog: MakeCatalog) -> None:
    result = make_catalog({}, patterns=("catalog/**/*.yaml",))
    assert formatted(result) == ["catalog/**/*.yaml: warning: no catalog file matches this pattern"]


def test_refs_to_a_rejected_entity_are_not_reported_again(make_catalog: MakeCatalog) -> None:
    broken_team = GROUP_A.replace("children: []", "children: 3")
    result = make_catalog(
        {
            "catalog/team.yaml": broken_team,
            "catalog/a.yaml": component(),
            "catalog/b.yaml": component("b"),
        }
    )
    assert formatted(result) == [
        "catalog/team.yaml:7:13: error: spec.children: expected a list, got a number"
    ]


@pytest.mark.parametrize("text", ["0\n", "just text\n", "- a\n- b\n"])
def test_a_file_that_is_a_single_value_or_list(make_catalog: MakeCatalog, text: str) -> None:
    result = make_catalog({"catalog/odd.yaml": text})
    (problem,) = result.report.problems
    assert problem.message.startswith("a catalog document must be a mapping")
