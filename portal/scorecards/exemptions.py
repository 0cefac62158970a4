"""Exemptions, written in git next to the entity, in its ``portal.quantum.dev/exemptions``.

Why an annotation, not a file beside the descriptor: it travels with the
entity wherever the entity is written (a catalog file here, a
``catalog-info.yaml`` in a service's own repository, a descriptor registered in
the portal), it is reviewed in the same pull request as the entity it excuses,
Backstage and other tools ignore it, and a descriptor file may hold several
entities, which a sibling file could not tell apart. Its value is a YAML list::

    portal.quantum.dev/exemptions: |
      - rule: production-readiness/alerts-link
        reason: Alerts move to the new rule engine in January; the dashboard pages us.
        approver: group:sre
        expires: 2027-01-31

Every key is required. An expired exemption stops counting the day after
``expires`` and shows as expired; a malformed one is a validation error at its
file and line and never counts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime

from portal.catalog.model import Entity
from portal.problems import Problem
from portal.scorecards.paths import describe
from portal.scorecards.results import Exemption
from portal.yamlio import Limits, Locator, YamlError, load_documents

__all__ = ["EXEMPTIONS", "as_date", "read_exemptions"]

EXEMPTIONS = "portal.quantum.dev/exemptions"
_KEYS = ("rule", "reason", "approver", "expires")
_LIMITS = Limits(max_bytes=64 * 1024, max_nodes=5_000, max_depth=10)


def read_exemptions(
    entity: Entity, rules: Mapping[str, Collection[str]] | None = None
) -> tuple[list[Exemption], list[Problem]]:
    """The entity's valid exemptions, and a positioned problem for each invalid one.

    ``rules`` (scorecard name -> its rule ids) checks that each exemption names
    a rule that exists; without it, only the shape is checked.
    """
    annotations = entity.metadata.get("annotations")
    text = annotations.get(EXEMPTIONS) if type(annotations) is dict else None
    if not isinstance(text, str):
        return [], []
    reader = _Reader(entity, text)
    return reader.read(rules), reader.problems


class _Reader:
    def __init__(self, entity: Entity, text: str) -> None:
        self.entity = entity
        self.text = text
        self.problems: list[Problem] = []
        self.base = entity.origin.position(("metadata", "annotations", EXEMPTIONS))
        self.locator = Locator(text)

    def position(self, path: tuple[str | int, ...]) -> tuple[int | None, int | None]:
        """The file line (and column, when known) of ``path`` inside the annotation's YAML."""
        if self.base is None:
            return None, None
        inner = self.locator.locate(0, path, key=len(path) > 1) if path else None
        if "\n" in self.text.rstrip("\n"):
            # A block scalar: its text starts on the line after the key.
            return self.base[0] + (inner[0] if inner else 1), None
        return self.base[0], self.base[1] + (inner[1] - 1 if inner else 0)

    def problem(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        line, column = self.position(path)
        self.problems.append(
            Problem(
                self.entity.origin.display,
                f"metadata.annotations[{EXEMPTIONS!r}]: {message}",
                "error",
                line,
                column,
            )
        )

    def read(self, rules: Mapping[str, Collection[str]] | None) -> list[Exemption]:
        try:
            documents = load_documents(self.text, _LIMITS)
        except YamlError as exc:
            self.problem(f"is not valid YAML: {exc.message.removeprefix('invalid YAML: ')}")
            return []
        items = documents[0] if documents else None
        if not isinstance(items, list) or not items:
            self.problem(
                "expected a YAML list of exemptions, each with rule, reason, approver and "
                f"expires; got {describe(items)}"
            )
            return []
        found: list[Exemption] = []
        for index, item in enumerate(items):
            exemption = self.item(index, item, rules)
            if exemption is not None:
                found.append(exemption)
        return found

    def item(
        self, index: int, item: object, rules: Mapping[str, Collection[str]] | None
    ) -> Exemption | None:
        at = f"exemption {index + 1}"
        if not isinstance(item, dict):
            self.problem(f"{at}: expected a mapping of {', '.join(_KEYS)}", (index,))
            return None
        ok = True
        for key in item:
            if key not in _KEYS:
                self.problem(
                    f"{at}: unknown key {key!r} (expected {', '.join(_KEYS)})", (index, key)
                )
                ok = False
        for key in ("rule", "reason", "approver"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                what = (
                    "is required"
                    if value is None
                    else "is empty"
                    if isinstance(value, str)
                    else f"must be text, got {describe(value)}"
                )
                self.problem(
                    f"{at}: {key} {what}{_HINTS[key]}", (index, key) if key in item else (index,)
                )
                ok = False
        expires = as_date(item.get("expires"))
        if expires is None:
            value = item.get("expires")
            what = "is required" if value is None else f"{describe(value)} is not a date"
            self.problem(
                f"{at}: expires {what} (write YYYY-MM-DD; an exemption must end)",
                (index, "expires") if "expires" in item else (index,),
            )
            ok = False
        scorecard = rule = ""
        if isinstance(item.get("rule"), str):
            scorecard, _, rule = item["rule"].partition("/")
            if not rule:
                self.problem(
                    f"{at}: rule {item['rule']!r} must name its scorecard too: "
                    f"<scorecard>/<rule-id>, e.g. production-readiness/{scorecard}",
                    (index, "rule"),
                )
                ok = False
            elif rules is not None and scorecard not in rules:
                known = ", ".join(sorted(rules)) or "none"
                self.problem(
                    f"{at}: no scorecard {scorecard!r} (scorecards: {known})", (index, "rule")
                )
                ok = False
            elif rules is not None and rule not in rules[scorecard]:
                known = ", ".join(rules[scorecard])
                self.problem(
                    f"{at}: no rule {rule!r} in scorecard {scorecard} (rules: {known})",
                    (index, "rule"),
                )
                ok = False
        if not ok or expires is None:
            return None
        line, _ = self.position((index,))
        display = self.entity.origin.display
        return Exemption(
            scorecard,
            rule,
            str(item["reason"]).strip(),
            str(item["approver"]).strip(),
            expires,
            f"{display}:{line}" if line else display,
        )


_HINTS = {
    "rule": " (<scorecard>/<rule-id>)",
    "reason": " (why the rule cannot be met yet, and what will change)",
    "approver": " (who agreed, e.g. group:sre or a person's ref)",
}


def as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
