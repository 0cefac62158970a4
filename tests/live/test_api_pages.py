"""API reference pages list each environment's server, linked; partners see only public ones."""

from __future__ import annotations

from pathlib import Path

from portal.catalog import parse_ref
from portal.model import load_model
from portal.settings import Settings
from portal.sites import pages
from portal.sites.stage import plan_audiences
from tests.live.conftest import live_repo

PUBLIC_API = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: public-api
  tags: [public]
  annotations:
    portal.quantum.dev/environment.staging: https://api.staging.quantum.example/v1
    portal.quantum.dev/environment.production: https://api.quantum.example/v1
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: |
    openapi: 3.0.0
    info: {title: Public API, version: 1.0.0}
    paths: {}
"""


def api_pages(root: Path) -> dict[str, str]:
    model = load_model(Settings(root=root), cache=False)
    assert [p.format() for p in model.report.errors] == []
    plans = plan_audiences(model, "https://portal.quantum.example")
    ref = parse_ref("api:public-api")
    return {
        name: pages.api_page(plan, plan.entities[ref])
        for name, plan in plans.items()
        if ref in plan.apis
    }


def test_each_environment_server_is_listed_and_linked(tmp_path: Path) -> None:
    shown = api_pages(live_repo(tmp_path / "repo", {"catalog/public-api.yaml": PUBLIC_API}))
    staff = shown["staff"]
    assert "## Live servers" in staff
    assert (
        "| staging | [https://api.staging.quantum.example/v1]"
        "(https://api.staging.quantum.example/v1) |"
    ) in staff
    assert "| production | [https://api.quantum.example/v1](https://api.quantum.example/v1) |" in (
        staff
    )
    assert "[Try it](https://portal.quantum.example/catalog/api/default/public-api/try)" in staff
    # The servers come right under the title, before what the definition says.
    assert staff.index("# Public API") < staff.index("## Live servers") < staff.index("**Version**")


def test_partners_see_only_public_environments_and_no_portal_link(tmp_path: Path) -> None:
    shown = api_pages(live_repo(tmp_path / "repo", {"catalog/public-api.yaml": PUBLIC_API}))
    partners = shown["partners"]
    assert "| production | [https://api.quantum.example/v1]" in partners
    assert "staging" not in partners
    assert "Try it" not in partners and "/try" not in partners


def test_an_api_without_servers_has_no_section(tmp_path: Path) -> None:
    shown = api_pages(live_repo(tmp_path / "repo", {}))
    assert all("Live servers" not in page for page in shown.values())
