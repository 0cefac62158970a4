"""Quantum's own scorecard check: secrets are referenced in Azure Key Vault, in our vaults.

An example of an organisation adding a check type: any ``plugins/*.py`` module
may implement ``portal_scorecard_checks``; rules then name the type in
``check: {type: key-vault-secret, vaults: [...]}``.
"""

from __future__ import annotations

import re

from portal.catalog import Entity
from portal.hookspecs import hookimpl
from portal.scorecards import Check, CheckOptions, CheckType, DefinitionError, EvalContext

SECRETS = "portal.quantum.dev/secrets"
_REFERENCE = re.compile(r"^kv://(?P<vault>[A-Za-z0-9-]{3,24})/(?P<secret>[A-Za-z0-9-]{1,127})$")


def _compile(options: CheckOptions) -> Check:
    vaults = options.values.get("vaults", [])
    if not isinstance(vaults, list) or not all(isinstance(v, str) and v for v in vaults):
        raise DefinitionError(
            "vaults", "expected a list of Key Vault names, e.g. [kv-quantum-prod]"
        )
    allowed = ", ".join(vaults)

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        annotations = entity.metadata.get("annotations") or {}
        value = annotations.get(SECRETS)
        if not value:
            return (
                f"names no secrets ({SECRETS}): a service keeps its secrets in Azure Key Vault "
                "and names them here as kv://<vault>/<secret>"
            )
        match = _REFERENCE.match(str(value))
        if match is None:
            return f"{SECRETS} is not a Key Vault reference kv://<vault>/<secret>"
        if vaults and match["vault"] not in vaults:
            return f"{SECRETS} names vault {match['vault']!r}, not one of ours ({allowed})"
        return None

    where = f" in {allowed}" if vaults else ""
    return Check(run, f"secrets are referenced in Azure Key Vault{where}")


@hookimpl
def portal_scorecard_checks() -> list[CheckType]:
    return [
        CheckType(
            "key-vault-secret",
            "The entity names its secrets as Azure Key Vault references (kv://<vault>/<secret>).",
            {"vaults": "the vaults secrets may live in (default: any)"},
            _compile,
        )
    ]
