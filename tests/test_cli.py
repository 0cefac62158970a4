"""The ``portal`` command as a user runs it: a real subprocess, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import BACKSTAGE_EXAMPLES, GROUP_A, REPO, component, write_files


def portal(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_validate_clean_catalog_exits_0(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/a.yaml": component(), "catalog/team.yaml": GROUP_A})
    run = portal("validate", "--root", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert run.stderr.strip() == "2 entities in 2 files: 0 errors, 0 warnings"


def test_validate_errors_exit_1_with_positions(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/a.yaml": component(owner="'team a'")})
    run = portal("validate", "--root", str(tmp_path))
    assert run.returncode == 1
    assert run.stdout.startswith("catalog/a.yaml:8:10: error: spec.owner: 'team a' is not")
    assert "Traceback" not in run.stderr


def test_warnings_fail_only_with_strict(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/a.yaml": component(owner="nobody")})
    assert portal("validate", "--root", str(tmp_path)).returncode == 0
    strict = portal("validate", "--root", str(tmp_path), "--strict")
    assert strict.returncode == 1
    assert "group:default/nobody does not exist" in strict.stdout


def test_validate_json_output(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/a.yaml": component(), "catalog/b.yaml": "x: [\n"})
    run = portal("validate", "--root", str(tmp_path), "--format", "json")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["ok"] is False
    assert report["entities"] == 1
    assert [(p["file"], p["line"], p["severity"]) for p in report["problems"]] == [
        ("catalog/a.yaml", 8, "warning"),
        ("catalog/b.yaml", 2, "error"),
    ]


def test_validate_follows_catalog_option(tmp_path: Path) -> None:
    run = portal(
        "validate",
        "--root",
        str(BACKSTAGE_EXAMPLES),
        "--catalog",
        "all.yaml",
        "--catalog",
        "acme-corp.yaml",
    )
    assert run.returncode == 0, run.stdout
    assert run.stderr.strip().startswith("67 entities in 49 files: 0 errors")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert portal("validate", "--format", "yaml").returncode == 2
    missing = portal("validate", "--root", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert portal("no-such-command").returncode == 2


def test_bad_setting_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "portal", "validate", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PORTAL_MAX_FILE_BYTES": "lots"},
    )
    assert run.returncode == 2
    assert "PORTAL_MAX_FILE_BYTES" in run.stderr


def test_a_broken_plugin_is_a_clean_error(tmp_path: Path) -> None:
    write_files(tmp_path, {"plugins/broken.py": "1/0\n"})
    run = portal("validate", "--root", str(tmp_path))
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: {tmp_path}/plugins/broken.py: the plugin failed")
    assert "Traceback" not in run.stderr


def test_catalog_schema_is_json_schema() -> None:
    run = portal("catalog", "schema")
    assert run.returncode == 0
    schema = json.loads(run.stdout)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
