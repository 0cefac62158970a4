"""The Dockerfile and the Kubernetes manifests agree with the code they run.

They cannot run here (no container runtime, no cluster); what can be checked is that
every setting they give is a real setting with a valid value, every probe a real public
route, every command a real command, and that the image runs as a non-root user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal.cli import cli
from portal.secrets import is_reference
from portal.settings import Settings
from tests.auth.test_access import routes, rule_of
from tests.conftest import REPO

MANIFESTS = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"


def manifests() -> dict[str, dict[str, Any]]:
    """Every resource in deploy/kubernetes, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert isinstance(document, dict), f"{path.name}: not a mapping"
            assert document.get("kind") and document.get("apiVersion"), path.name
            found[document["kind"]] = document
    return found


def dockerfile_env() -> dict[str, str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_kustomization_names_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    files = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_every_setting_given_is_a_real_setting_with_a_valid_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = manifests()
    config = found["ConfigMap"]["data"]
    secret = found["Secret"]["stringData"]
    image = {k: v for k, v in dockerfile_env().items() if k.startswith("PORTAL_")}
    fields = {f"PORTAL_{name.upper()}" for name in Settings.model_fields}
    # PORTAL_HOST and PORTAL_PORT are portal serve's options, not settings.
    assert (set(config) | set(secret) | set(image)) - fields - {
        "PORTAL_HOST",
        "PORTAL_PORT",
    } == set()
    for name, value in secret.items():
        assert is_reference(value) and value.startswith("kv://"), name
        assert re.fullmatch(r"kv://[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]/[A-Za-z0-9-]+", value)
    for name in [n for n in image if n in fields] + list(config):
        monkeypatch.setenv(name, {**image, **config}[name])
    monkeypatch.setenv("PORTAL_ROOT", str(tmp_path))
    settings = Settings()  # raises on any value the portal would refuse at start
    assert settings.site_store == "azure" and settings.search_engine == "postgres"
    assert settings.log_format == "json"


def test_probes_are_public_routes_of_the_app_on_the_images_port(tmp_path: Path) -> None:
    from portal.web import create_app

    deployment = manifests()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    paths = {
        container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    app = create_app(Settings(root=tmp_path, data_dir=tmp_path / "data"))
    rules = {path: rule_of(route) for path, route in routes(app)}
    assert {rules.get(path) for path in paths} == {"public"}  # probes carry no credential
    assert container["ports"][0]["containerPort"] == int(dockerfile_env()["PORTAL_PORT"])
    assert deployment["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert (
        manifests()["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    )


def test_pods_and_the_image_run_as_the_same_non_root_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms and all(base == "python:3.11-slim" for base in froms)
    user = re.findall(r"^USER (\d+)", text, re.M)[-1]
    assert user != "0"
    found = manifests()
    job = found["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for pod in (found["Deployment"]["spec"]["template"]["spec"], job):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == user
        assert pod["serviceAccountName"] == found["ServiceAccount"]["metadata"]["name"]
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_job_runs_a_real_command() -> None:
    job = manifests()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    program, group, *options = container["command"]
    assert program == "portal" and group in cli.commands
    known = {opt for param in cli.commands[group].params for opt in param.opts}
    assert set(options) <= known and "--publish" in options
    assert 'CMD ["portal", "serve"]' in DOCKERFILE.read_text(encoding="utf-8")


def test_the_image_leaves_out_local_state_and_secrets() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", ".cache", "data", "site"} <= ignored
