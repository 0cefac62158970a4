"""The ``Scorecard`` kind: its descriptor read, checked at file and line, and compiled once.

A scorecard with any error is reported and left out of evaluation: reviewers
must be able to trust every result they see, so no half-understood scorecard
produces any.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from portal.catalog.kinds import FieldSpec, KindSpec
from portal.catalog.model import Catalog, Entity
from portal.catalog.refs import EntityRef
from portal.catalog.validate import KeyPath, problem_at
from portal.problems import Report
from portal.scorecards.checks import Check, CheckOptions, CheckType, DefinitionError
from portal.scorecards.filters import Filter, FilterError, compile_filter
from portal.scorecards.paths import describe
from portal.scorecards.program import Program, Step, compile_program

__all__ = [
    "API_VERSION",
    "SCORECARD_KIND",
    "Fixture",
    "Level",
    "Rule",
    "Scorecard",
    "compile_scorecard",
    "rule_ids_of",
]

API_VERSION = "portal.quantum.dev/v1"

SCORECARD_KIND = KindSpec(
    "Scorecard",
    "Standards entities are checked against: who it applies to, its levels and its rules.",
    {
        "owner": FieldSpec(
            "ref",
            required=True,
            default_kind="group",
            relation="ownedBy",
            description="The group that owns the standard",
        ),
        "appliesTo": FieldSpec(
            "mapping",
            description="Which entities it applies to: kind, type, lifecycle, tags, system, "
            "owner, annotations, labels",
        ),
        "levels": FieldSpec("any", required=True, description="Ordered levels: name and color"),
        "rules": FieldSpec("any", required=True, description="The rules, each with its check"),
    },
    api_versions=(API_VERSION,),
)

_RULE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-z]+)$")
_LEVEL_KEYS = ("name", "color", "description")
_RULE_KEYS = (
    "id",
    "title",
    "description",
    "fix",
    "level",
    "weight",
    "appliesTo",
    "check",
    "fixtures",
)


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a scorecard, lowest first; ``color`` is a CSS colour."""

    name: str
    color: str
    description: str = ""


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: it holds a mapping
class Fixture:
    """An inline entity a rule must pass or fail, which ``portal scorecard test`` checks."""

    expect: Literal["pass", "fail"]
    index: int
    descriptor: Mapping[str, Any]
    where: str  # file:line


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, as the pages show it: ``fix`` is Markdown; ``summary`` says what it checks."""

    id: str
    title: str
    description: str
    fix: str
    level: str
    weight: float
    check_type: str
    summary: str
    applies_to: str | None
    where: str  # file:line of the rule
    fixtures: tuple[Fixture, ...] = ()


@dataclass(slots=True, eq=False)
class Scorecard:
    """A compiled scorecard.

    ``version`` is a stable hash of everything that decides results (who it
    applies to, the levels' names and order, each rule's id, level, weight,
    filter and check), so rewording a fix or recolouring a level keeps it, and
    a stricter rule changes it.
    """

    ref: EntityRef
    name: str
    title: str
    description: str
    owner: EntityRef | None
    version: str
    levels: tuple[Level, ...]
    rules: tuple[Rule, ...]
    applies_to: str
    where: str
    filter: Filter = field(repr=False)
    program: Program = field(repr=False)

    def level_index(self, name: str) -> int:
        return next((i for i, level in enumerate(self.levels) if level.name == name), -1)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def rule_ids_of(catalog: Catalog) -> dict[str, list[str]]:
    """Rule ids by scorecard name, read leniently (also from scorecards with errors)."""
    out: dict[str, list[str]] = {}
    for entity in catalog.of_kind("scorecard"):
        rules = entity.spec.get("rules")
        items = rules if isinstance(rules, list) else []
        out[entity.name] = [
            r["id"] for r in items if isinstance(r, dict) and isinstance(r.get("id"), str)
        ]
    return out


def compile_scorecard(
    entity: Entity, checks: Mapping[str, CheckType], kinds: Collection[str], report: Report
) -> Scorecard | None:
    """Check and compile one Scorecard entity; None (with problems in ``report``) on any error."""
    return _Compiler(entity, checks, kinds, report).compile()


class _Compiler:
    def __init__(
        self,
        entity: Entity,
        checks: Mapping[str, CheckType],
        kinds: Collection[str],
        report: Report,
    ) -> None:
        self.entity = entity
        self.checks = checks
        self.kinds = kinds
        self.report = report
        self.failed = False
        self.requires: dict[str, set[str]] = {}

    def error(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        self.failed = True
        self.report.add(problem_at(self.entity.origin, path, message, key=key))

    def where(self, path: KeyPath) -> str:
        pos = self.entity.origin.position(path)
        return f"{self.entity.origin.display}:{pos[0]}" if pos else self.entity.origin.display

    def compile(self) -> Scorecard | None:
        spec = self.entity.spec
        applies = self.filter(("spec", "appliesTo"), spec.get("appliesTo"))
        levels = self.levels(spec.get("levels"))
        rules, compiled = self.rules(spec.get("rules"), [level.name for level in levels])
        if self.failed or applies is None:
            return None
        program = compile_program(
            [
                Step.of(rule, filter_, check, _level_of(levels, rule.level), self.requires[rule.id])
                for rule, filter_, check in compiled
            ]
        )
        if program.cycle:
            index = next(i for i, rule in enumerate(rules) if rule.id == program.cycle[0])
            self.error(
                ("spec", "rules", index, "check"),
                f"rules depend on each other in a cycle: {' -> '.join(program.cycle)} "
                "(a rule cannot need its own result)",
            )
            return None
        owner = next((r.target for r in self.entity.relations if r.type == "ownedBy"), None)
        return Scorecard(
            ref=self.entity.ref,
            name=self.entity.name,
            title=self.entity.title,
            description=self.entity.description,
            owner=owner,
            version=_version(spec),
            levels=tuple(levels),
            rules=tuple(rules),
            applies_to=applies.description,
            where=self.where(("metadata", "name")),
            filter=applies,
            program=program,
        )

    def bad(self, at: KeyPath, item: Mapping[str, Any], key: str, expected: str) -> None:
        """Report ``item[key]`` as not what was expected, or as missing."""
        if key in item:
            self.error((*at, key), f"expected {expected}, got {describe(item[key])}")
        else:
            self.error(at, f"{key} is required: {expected}")

    def filter(self, at: KeyPath, value: object) -> Filter | None:
        try:
            return compile_filter(value)
        except FilterError as exc:
            for keys, message in exc.problems:
                self.error((*at, *keys), message)
            return None

    def levels(self, value: object) -> list[Level]:
        path: KeyPath = ("spec", "levels")
        if not isinstance(value, list) or not value:
            self.error(
                path,
                "expected a list of levels, lowest first, each with a name and a color "
                f"(e.g. - {{name: bronze, color: '#b87333'}}); got {describe(value)}",
            )
            return []
        levels: list[Level] = []
        for index, item in enumerate(value):
            at = (*path, index)
            if not isinstance(item, dict):
                self.error(at, f"expected a mapping with name and color, got {describe(item)}")
                continue
            self.unknown_keys(at, item, _LEVEL_KEYS)
            name, color = item.get("name"), item.get("color")
            if not isinstance(name, str) or not _RULE_ID.match(name):
                self.bad(at, item, "name", "a lowercase name such as silver")
                continue
            if any(level.name == name for level in levels):
                self.error((*at, "name"), f"level {name!r} is defined twice")
            if not isinstance(color, str) or not _COLOR.match(color):
                self.bad(at, item, "color", "a CSS colour such as '#c0c0c0' or silver")
                continue
            levels.append(Level(name, color, str(item.get("description") or "")))
        return levels

    def unknown_keys(self, at: KeyPath, item: Mapping[str, Any], known: tuple[str, ...]) -> None:
        for key in item:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.error(
                    (*at, str(key)),
                    f"unknown key {key!r} ({hint}expected {', '.join(known)})",
                    key=True,
                )

    def rules(
        self, value: object, level_names: list[str]
    ) -> tuple[list[Rule], list[tuple[Rule, Filter | None, Check]]]:
        path: KeyPath = ("spec", "rules")
        if not isinstance(value, list) or not value:
            self.error(path, f"expected a list of rules, got {describe(value)}")
            return [], []
        ids = [r.get("id") for r in value if isinstance(r, dict)]
        known_ids = [i for i in ids if isinstance(i, str)]
        rules: list[Rule] = []
        compiled: list[tuple[Rule, Filter | None, Check]] = []
        seen: set[str] = set()
        for index, item in enumerate(value):
            at = (*path, index)
            if not isinstance(item, dict):
                self.error(
                    at, f"expected a mapping with id, title, level and check, got {describe(item)}"
                )
                continue
            self.unknown_keys(at, item, _RULE_KEYS)
            rule_id = item.get("id")
            if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
                self.bad(at, item, "id", "a lowercase id such as runbook-link")
                continue
            if rule_id in seen:
                self.error((*at, "id"), f"rule id {rule_id!r} is used twice in this scorecard")
            seen.add(rule_id)
            result = self.rule(at, item, rule_id, level_names, known_ids)
            if result is not None:
                rules.append(result[0])
                compiled.append(result)
        return rules, compiled

    def rule(
        self,
        at: KeyPath,
        item: Mapping[str, Any],
        rule_id: str,
        level_names: list[str],
        rule_ids: list[str],
    ) -> tuple[Rule, Filter | None, Check] | None:
        failed, self.failed = self.failed, False
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            self.bad(at, item, "title", "text saying what the rule asks")
        for key in ("description", "fix"):
            if key in item and not isinstance(item[key], str):
                self.bad(at, item, key, "text (Markdown)")
        level = item.get("level")
        if level not in level_names:
            shown = ", ".join(level_names) or "none"
            if isinstance(level, str):
                self.error(
                    (*at, "level"), f"{level!r} is not a level of this scorecard (levels: {shown})"
                )
            else:
                self.bad(at, item, "level", f"one of {shown}")
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            self.bad(at, item, "weight", "a positive number (default 1)")
        rule_filter = (
            self.filter((*at, "appliesTo"), item["appliesTo"]) if ("appliesTo" in item) else None
        )
        check = self.check(at, item.get("check"), rule_id, rule_ids)
        fixtures = self.fixtures((*at, "fixtures"), item.get("fixtures"))
        ok = not self.failed
        self.failed = failed or self.failed
        if not ok or check is None:
            return None
        rule = Rule(
            id=rule_id,
            title=str(title).strip(),
            description=str(item.get("description") or "").strip(),
            fix=str(item.get("fix") or "").strip(),
            level=str(level),
            weight=float(weight),
            check_type=str(item["check"]["type"]),
            summary=check.summary,
            applies_to=rule_filter.description if rule_filter else None,
            where=self.where(at),
            fixtures=fixtures,
        )
        return rule, rule_filter, check

    def check(
        self, rule_at: KeyPath, value: object, rule_id: str, rule_ids: list[str]
    ) -> Check | None:
        at = (*rule_at, "check")
        types = ", ".join(sorted(self.checks))
        if not isinstance(value, dict):
            self.bad(
                rule_at,
                {} if value is None else {"check": value},
                "check",
                f"a mapping with a type (one of {types})",
            )
            return None
        type_name = value.get("type")
        check_type = self.checks.get(type_name) if isinstance(type_name, str) else None
        if check_type is None:
            if "type" not in value:
                self.error(at, f"type is required: one of {types}")
                return None
            close = difflib.get_close_matches(str(type_name), list(self.checks), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.error((*at, "type"), f"unknown check type {type_name!r} ({hint}known: {types})")
            return None
        self.unknown_keys(at, value, ("type", *check_type.options))
        options = CheckOptions(
            {k: v for k, v in value.items() if k != "type"}, rule_ids=rule_ids, kinds=self.kinds
        )
        try:
            check = check_type.compile(options)
        except DefinitionError as exc:
            self.error((*at, exc.key) if exc.key and exc.key in value else at, exc.message)
            return None
        if rule_id in options.requires:
            self.error(at, f"rule {rule_id!r} reads its own result (a cycle of one)")
            return None
        self.requires[rule_id] = options.requires
        return check

    def fixtures(self, at: KeyPath, value: object) -> tuple[Fixture, ...]:
        if value is None:
            return ()
        if not isinstance(value, dict) or set(value) - {"pass", "fail"}:
            self.error(
                at, "expected a mapping with pass and/or fail, each a list of entity descriptors"
            )
            return ()
        out: list[Fixture] = []
        expects: tuple[Literal["pass", "fail"], ...] = ("pass", "fail")
        for expect in expects:
            items = value.get(expect, [])
            if not isinstance(items, list):
                self.error(
                    (*at, expect), f"expected a list of entity descriptors, got {describe(items)}"
                )
                continue
            for index, descriptor in enumerate(items):
                if not isinstance(descriptor, dict):
                    self.error(
                        (*at, expect, index),
                        f"expected an entity descriptor (a mapping), got {describe(descriptor)}",
                    )
                    continue
                out.append(Fixture(expect, index, descriptor, self.where((*at, expect, index))))
        return tuple(out)


def _level_of(levels: list[Level], name: str) -> int:
    return next(i for i, level in enumerate(levels) if level.name == name)


def _version(spec: Mapping[str, Any]) -> str:
    rules = spec.get("rules") or []
    decisive = {
        "appliesTo": spec.get("appliesTo"),
        "levels": [level.get("name") for level in spec.get("levels") or []],
        "rules": [
            {key: rule.get(key) for key in ("id", "level", "weight", "appliesTo", "check")}
            for rule in rules
        ],
    }
    text = json.dumps(decisive, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
