"""The JSON Schema for editors agrees with the validator on real descriptors."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from portal.catalog.schema import catalog_schema
from portal.plugins import get_plugin_manager
from tests.conftest import BACKSTAGE_EXAMPLES, REPO


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = catalog_schema(get_plugin_manager())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def documents(paths: list[Path]) -> list[tuple[str, dict[str, object]]]:
    out = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                out.append((f"{path.name}:{doc['metadata']['name']}", doc))
    return out


def test_every_repository_entity_matches_the_schema(validator: jsonschema.Draft7Validator) -> None:
    for label, doc in documents(sorted((REPO / "catalog").rglob("*.yaml"))):
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], label


def test_backstage_examples_match_the_schema(validator: jsonschema.Draft7Validator) -> None:
    paths = [
        p
        for p in sorted(BACKSTAGE_EXAMPLES.rglob("*.yaml"))
        if not p.name.endswith(".oas.yaml") and p.name != "invalid-component.yaml"
    ]
    for label, doc in documents(paths):
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], label


def test_invalid_example_fails_the_schema(validator: jsonschema.Draft7Validator) -> None:
    ((_, doc),) = documents([BACKSTAGE_EXAMPLES / "components" / "invalid-component.yaml"])
    paths = sorted("/".join(map(str, e.absolute_path)) for e in validator.iter_errors(doc))
    assert paths == ["metadata/name", "metadata/tags/1"]


def test_required_spec_fields_are_in_the_schema(validator: jsonschema.Draft7Validator) -> None:
    doc = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "x"},
        "spec": {"type": "service"},
    }
    messages = sorted(e.message for e in validator.iter_errors(doc))
    assert messages == ["'lifecycle' is a required property", "'owner' is a required property"]
