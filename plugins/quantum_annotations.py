"""Quantum's own annotation conventions (see catalog/README.md), checked on every entity.

An example of an organisation plugin: any ``plugins/*.py`` module at the
repository root is loaded by the portal and its hook implementations run
beside the built-in ones.
"""

from __future__ import annotations

from portal.catalog import Entity, problem_at
from portal.hookspecs import hookimpl
from portal.problems import Report

PREFIX = "portal.quantum.dev/"
TIERS = ("tier-1", "tier-2", "tier-3")


@hookimpl
def portal_catalog_check_entity(entity: Entity, report: Report) -> None:
    annotations = entity.annotations
    tier = annotations.get(PREFIX + "tier")
    if tier is not None and tier not in TIERS:
        _warn(entity, report, "tier", f"{tier!r} is not a tier (expected {', '.join(TIERS)})")
    slo = annotations.get(PREFIX + "p95-slo-ms")
    if slo is not None and not (slo.isdigit() and int(slo) > 0):
        _warn(entity, report, "p95-slo-ms", f"{slo!r} is not a whole number of milliseconds")
    secrets = annotations.get(PREFIX + "secrets")
    if secrets is not None and not secrets.startswith("kv://"):
        _warn(
            entity,
            report,
            "secrets",
            "secrets are referenced in Azure Key Vault as kv://<vault>/<secret>, never written "
            "here",
        )


def _warn(entity: Entity, report: Report, name: str, message: str) -> None:
    path = ("metadata", "annotations", PREFIX + name)
    report.add(problem_at(entity.origin, path, message, "warning"))
