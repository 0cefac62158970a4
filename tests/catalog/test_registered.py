"""Registered descriptors composed on top of the repository's files."""

from __future__ import annotations

from pathlib import Path

from portal.catalog import CatalogSources, TextSource, load_catalog, parse_ref
from portal.settings import Settings
from tests.conftest import GROUP_A, component, write_files


def sources(root: Path, files: dict[str, str]) -> CatalogSources:
    write_files(root, files)
    return CatalogSources(Settings(root=root))


def test_registered_text_is_related_to_the_files(tmp_path: Path) -> None:
    catalog = sources(tmp_path, {"catalog/team.yaml": GROUP_A})
    result = catalog.compose([TextSource("registered/1/x.yaml", component("orders"))])
    assert not result.report.has_errors
    team = result.catalog.get(parse_ref("group:team-a"))
    assert team is not None
    assert parse_ref("component:orders") in team.related("ownerOf")


def test_a_file_wins_a_clash_whatever_the_order(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/team.yaml": GROUP_A, "catalog/orders.yaml": component()})
    result = load_catalog(
        Settings(root=tmp_path), registered=[TextSource("registered/1/x.yaml", component())]
    )
    orders = result.catalog.get(parse_ref("component:orders"))
    assert orders is not None and orders.origin.display == "catalog/orders.yaml"
    [problem] = result.report.errors
    assert problem.file == "registered/1/x.yaml"
    assert "already defined at catalog/orders.yaml:4:9" in problem.message


def test_composing_again_reads_no_file_and_keeps_earlier_catalogs(tmp_path: Path) -> None:
    catalog = sources(tmp_path, {"catalog/team.yaml": GROUP_A})
    first = catalog.compose([TextSource("registered/1/a.yaml", component("a"))])
    (tmp_path / "catalog" / "team.yaml").unlink()  # files were read once, at the start
    second = catalog.compose([])
    assert parse_ref("group:team-a") in second.catalog
    assert parse_ref("component:a") not in second.catalog
    team = first.catalog.get(parse_ref("group:team-a"))
    assert team is not None and parse_ref("component:a") in team.related("ownerOf")


def test_a_registered_path_is_read_from_the_repository(tmp_path: Path) -> None:
    catalog = sources(
        tmp_path,
        {"catalog/team.yaml": GROUP_A, "services/pay/catalog-info.yaml": component("pay")},
    )
    result = catalog.compose(["services/pay/catalog-info.yaml"])
    pay = result.catalog.get(parse_ref("component:pay"))
    assert pay is not None and pay.origin.display == "services/pay/catalog-info.yaml"
    refused = catalog.compose(["../elsewhere.yaml"])
    assert any("leaves" in p.message for p in refused.report.errors)


def test_check_blames_only_the_submission(tmp_path: Path) -> None:
    catalog = sources(
        tmp_path,
        {"catalog/team.yaml": GROUP_A, "catalog/old.yaml": component("old", owner="ghosts")},
    )
    existing = catalog.compose().catalog
    result = catalog.check(
        TextSource("new.yaml", component("new", owner="nobody") + "---\n" + component("old")),
        existing,
    )
    assert [str(e.ref) for e in result.entities] == ["component:default/new"]
    assert {p.file for p in result.report} == {"new.yaml"}
    messages = [p.format() for p in result.report.sorted()]
    assert any("group:default/nobody does not exist" in m for m in messages), messages
    assert any("already defined at catalog/old.yaml" in m for m in messages), messages
    assert [(a.origin.display, b.origin.display) for a, b in result.clashes] == [
        ("new.yaml", "catalog/old.yaml")
    ]
