"""Declaring environments: read once into the model, every mistake at its file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from portal.catalog import load_catalog, parse_ref
from portal.live import Environment, EnvLink, api_servers, read_environments
from portal.model import load_model
from portal.problems import Report
from portal.settings import Settings
from tests.conftest import GROUP_A, REPO, write_files

DECLARED = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orders
  annotations:
    portal.quantum.dev/health: /healthz
    portal.quantum.dev/environment.production: https://orders.quantum.example
    portal.quantum.dev/environment.staging: https://orders.staging.quantum.example/base/
    portal.quantum.dev/health.production: https://orders-mgmt.quantum.example:9090/live
  links:
    - url: https://grafana.quantum.example/d/orders?var-env=production
      title: Dashboard
      type: dashboard
      environment: production
    - url: https://github.quantum.example/orders
      title: Repository
spec:
  type: service
  lifecycle: production
  owner: team-a
  providesApis: [orders-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: "openapi: 3.0.0"
"""

MISTAKES = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: broken
  annotations:
    portal.quantum.dev/environment.qa: https://broken.qa.example
    portal.quantum.dev/environment.staging: ftp://broken.staging.example
    portal.quantum.dev/environment.production: https://user:secret@broken.example
    portal.quantum.dev/environment.development: http://127.0.0.1:7000
    portal.quantum.dev/health: healthz
    portal.quantum.dev/health.preview: /ready
  links:
    - url: https://grafana.example/d/broken
      environment: production
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def model_of(tmp_path: Path, files: dict[str, str]):  # type: ignore[no-untyped-def]
    write_files(tmp_path, {"catalog/team.yaml": GROUP_A, **files})
    return load_model(Settings(root=tmp_path), with_docs=False)


def test_environments_are_read_in_the_settings_order(tmp_path: Path) -> None:
    model = model_of(tmp_path, {"catalog/orders.yaml": DECLARED})
    assert [p.format() for p in model.report.errors] == []
    orders = model.environments[parse_ref("component:orders")]
    assert orders == (
        Environment(
            "staging",
            "https://orders.staging.quantum.example/base/",
            "https://orders.staging.quantum.example/base/healthz",
        ),
        Environment(
            "production",
            "https://orders.quantum.example",
            "https://orders-mgmt.quantum.example:9090/live",
            (
                EnvLink(
                    "https://grafana.quantum.example/d/orders?var-env=production",
                    "Dashboard",
                    "dashboard",
                ),
            ),
        ),
    )
    # The API has no declaration of its own: its servers are its provider's.
    api = model.catalog.get(parse_ref("api:orders-api"))
    assert api is not None
    assert [s.name for s in api_servers(api, model.catalog, model.environments)] == [
        "staging",
        "production",
    ]


def test_every_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    model = model_of(tmp_path, {"catalog/broken.yaml": MISTAKES})
    key = "metadata.annotations['portal.quantum.dev"
    assert [p.format() for p in model.report.sorted()] == [
        f"catalog/broken.yaml:6:5: error: {key}/environment.qa']: 'qa' is not a known "
        "environment (known: development, staging, production; setting "
        "PORTAL_LIVE_ENVIRONMENTS)",
        f"catalog/broken.yaml:7:45: error: {key}/environment.staging']: "
        "'ftp://broken.staging.example' is not an http(s) URL with a host "
        "(e.g. https://orders.example.com)",
        f"catalog/broken.yaml:8:48: error: {key}/environment.production']: "
        "'https://user:****@broken.example' holds credentials; the portal never sends "
        "credentials in a URL",
        f"catalog/broken.yaml:10:32: error: {key}/health']: 'healthz' is neither a path "
        "(e.g. /healthz) nor an http(s) URL",
        f"catalog/broken.yaml:11:5: error: {key}/health.preview']: environment 'preview' is "
        "not declared: add the annotation portal.quantum.dev/environment.preview with its "
        "base URL ('preview' is not a known one: development, staging, production)",
        "catalog/broken.yaml:14:20: error: metadata.links[0].environment: 'production' is not "
        "an environment this entity declares (declared: development; declare one with "
        "portal.quantum.dev/environment.<name>)",
    ]
    # What is valid is kept: the development environment, without a health endpoint.
    assert model.environments[parse_ref("component:broken")] == (
        Environment("development", "http://127.0.0.1:7000"),
    )


def test_known_environments_are_a_setting(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/team.yaml": GROUP_A, "catalog/broken.yaml": MISTAKES})
    settings = Settings(root=tmp_path, live_environments=["qa", "development"])
    model = load_model(settings, with_docs=False)
    declared = model.environments[parse_ref("component:broken")]
    assert [e.name for e in declared] == ["qa", "development"]


def test_portal_validate_reports_them_and_fails(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/team.yaml": GROUP_A, "catalog/broken.yaml": MISTAKES})
    done = subprocess.run(
        [sys.executable, "-m", "portal", "validate", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    assert "catalog/broken.yaml:6:5: error:" in done.stdout + done.stderr
    assert "'qa' is not a known environment" in done.stdout + done.stderr


def test_the_example_catalog_declares_the_portal_itself_on_portal_serve() -> None:
    settings = Settings(root=REPO)
    result = load_catalog(settings)
    report = Report()
    environments = read_environments(result.catalog, report, settings.live_environments)
    assert list(report) == []
    assert environments[parse_ref("component:developer-portal")][0] == Environment(
        "development",
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000/healthz",
        (EnvLink("http://127.0.0.1:8000/metrics", "Metrics (Prometheus)", "dashboard"),),
    )
    api = environments[parse_ref("api:developer-portal-api")]
    assert [(e.name, e.url) for e in api] == [("development", "http://127.0.0.1:8000/api/v1")]
