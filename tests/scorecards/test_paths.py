"""Descriptor paths: parsed once with positioned errors, read safely on any entity."""

from __future__ import annotations

import pytest

from portal.scorecards.paths import MISSING, PathError, parse_path
from tests.scorecards.conftest import MakeRepo, component


@pytest.mark.parametrize(
    ("text", "steps", "shown"),
    [
        ("metadata.name", ("metadata", "name"), "metadata.name"),
        (
            'metadata.annotations["portal.dev/runbook"]',
            ("metadata", "annotations", "portal.dev/runbook"),
            "metadata.annotations['portal.dev/runbook']",
        ),
        ("spec.providesApis[0]", ("spec", "providesApis", 0), "spec.providesApis[0]"),
        ("spec.dependsOn[-1]", ("spec", "dependsOn", -1), "spec.dependsOn[-1]"),
        (
            "metadata.labels['cost-center']",
            ("metadata", "labels", "cost-center"),
            "metadata.labels['cost-center']",
        ),
        ("kind", ("kind",), "kind"),
    ],
)
def test_paths_parse(text: str, steps: tuple[object, ...], shown: str) -> None:
    path = parse_path(text)
    assert path.steps == steps
    assert str(path) == shown


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        (
            "metdata.name",
            "'metdata' is not a top-level key of a descriptor (expected apiVersion, "
            "kind, metadata, spec)",
            0,
        ),
        ('metadata.annotations["x', 'the key opened with " is not closed', 21),
        (
            "metadata.annotations[x]",
            'expected a quoted key ["key"] or a list index [0] after "["',
            21,
        ),
        ("spec.items[0", 'expected "]" to close the "[" at character 11', 12),
        (
            "metadata..name",
            "expected a key name, got '.' (write keys with other characters as [\"key\"])",
            9,
        ),
        ("kind.name", "kind is text: nothing can follow it", 4),
        ("metadata.name extra", "unexpected ' ' after the path", 13),
        (
            "",
            'expected a descriptor path, e.g. metadata.annotations["portal.quantum.dev/runbook"]',
            0,
        ),
    ],
)
def test_bad_paths_say_where(text: str, message: str, offset: int) -> None:
    with pytest.raises(PathError) as info:
        parse_path(text)
    assert (info.value.message, info.value.offset) == (message, offset)


def test_reading_never_raises_on_odd_values(make_repo: MakeRepo) -> None:
    model = make_repo(
        {
            "catalog/a.yaml": component(
                "a",
                spec="  type: service\n  lifecycle: production\n  owner: team-a\n"
                "  extra: [1, {deep: yes}]\n  text: hello\n",
            )
        }
    )
    entity = next(e for e in model.catalog if e.name == "a")
    assert parse_path("spec.extra[1].deep").getter()(entity) is True
    assert parse_path("spec.extra[5]").getter()(entity) is MISSING
    assert parse_path("spec.text.deeper").getter()(entity) is MISSING
    assert parse_path("metadata.annotations['x']").getter()(entity) is MISSING
    explain = parse_path("spec.extra[5]").explain_missing
    assert explain(entity) == "spec.extra has 2 items, no [5]"
    assert parse_path("spec.text.deeper").explain_missing(entity) == (
        "spec.text is 'hello', not a mapping"
    )
    assert (
        parse_path("spec.extra[0].x").explain_missing(entity) == "spec.extra[0] is 1, not a mapping"
    )
    assert parse_path("metadata.annotations['x']").explain_missing(entity) == (
        "metadata.annotations is not set"
    )
