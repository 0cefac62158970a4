"""Scorecard results as text: a terminal table, JSON, CSV (one row per entity and rule), Markdown.

Every format says the same things: the scorecard and its version, each
entity's level and score, and each failing rule with its reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from portal.catalog.refs import EntityRef
from portal.scorecards.definition import Scorecard
from portal.scorecards.results import EntityResult, RuleOutcome, ScorecardResult

__all__ = ["FORMATS", "heading", "level_label", "render", "to_json", "to_rows"]

FORMATS = ("table", "json", "csv", "markdown")


def render(results: Sequence[ScorecardResult], fmt: str, *, detail: bool = False) -> str:
    """``results`` in ``fmt``; ``detail`` lists every rule of every entity in table and Markdown."""
    if fmt == "json":
        return json.dumps(to_json(results), indent=2) + "\n"
    if fmt == "csv":
        return _csv(results)
    if fmt == "markdown":
        return _markdown(results, detail)
    return _table(results, detail)


def short(ref: EntityRef | None) -> str:
    return ref.short() if ref is not None else ""


def heading(card: Scorecard) -> str:
    """A scorecard as Markdown headings name it: its title, and its name when they differ."""
    if card.title == card.name:
        return f"`{card.name}`"
    return f"{_md(card.title)} (`{card.name}`)"


def level_label(result: ScorecardResult, level: str | None) -> str:
    return level if level is not None else f"below {result.levels[0].name}"


def _exemption_note(outcome: RuleOutcome) -> str:
    exemption = outcome.exemption
    if exemption is None:
        return ""
    state = "expired on" if outcome.expired else "until"
    return (
        f"exemption {state} {exemption.expires}, approved by {exemption.approver}: "
        f"{exemption.reason} ({exemption.where})"
    )


# -- JSON and CSV -----------------------------------------------------------------


def to_json(results: Sequence[ScorecardResult]) -> dict[str, Any]:
    """Everything an evaluation found, as plain JSON values."""
    return {
        "today": results[0].today.isoformat() if results else date.today().isoformat(),
        "scorecards": [
            {
                "name": result.scorecard.name,
                "ref": str(result.ref),
                "title": result.scorecard.title,
                "version": result.version,
                "applies_to": result.scorecard.applies_to,
                "levels": [{"name": lv.name, "color": lv.color} for lv in result.levels],
                "by_level": {level or "": n for level, n in result.by_level().items()},
                "rules": [
                    {
                        "id": rule.id,
                        "title": rule.title,
                        "level": rule.level,
                        "weight": rule.weight,
                        "check": rule.check_type,
                        "checks": rule.summary,
                        "applies_to": rule.applies_to,
                        "fix": rule.fix,
                    }
                    for rule in result.rules
                ],
                "entities": [_entity_json(row) for row in result.entities],
            }
            for result in results
        ],
    }


def _entity_json(row: EntityResult) -> dict[str, Any]:
    return {
        "entity": str(row.entity),
        "owner": str(row.owner) if row.owner else None,
        "level": row.level,
        "score": row.score,
        "outcomes": [
            {
                "rule": o.rule,
                "status": o.status,
                "reason": o.reason,
                "exemption": None
                if o.exemption is None
                else {
                    "reason": o.exemption.reason,
                    "approver": o.exemption.approver,
                    "expires": o.exemption.expires.isoformat(),
                    "expired": o.expired,
                    "where": o.exemption.where,
                },
            }
            for o in row.outcomes
        ],
    }


CSV_COLUMNS = (
    "scorecard", "version", "entity", "owner", "level", "score", "rule", "rule_level", "status",
    "reason", "exempt_until", "approver", "exemption_expired",
)  # fmt: skip


def to_rows(results: Sequence[ScorecardResult]) -> list[dict[str, str]]:
    """One row per scorecard, entity and rule."""
    rows = []
    for result in results:
        levels = {rule.id: rule.level for rule in result.rules}
        for row in result.entities:
            for o in row.outcomes:
                rows.append(
                    {
                        "scorecard": result.scorecard.name,
                        "version": result.version,
                        "entity": str(row.entity),
                        "owner": str(row.owner or ""),
                        "level": row.level or "",
                        "score": f"{row.score:g}",
                        "rule": o.rule,
                        "rule_level": levels[o.rule],
                        "status": o.status,
                        "reason": o.reason,
                        "exempt_until": o.exemption.expires.isoformat() if o.exemption else "",
                        "approver": o.exemption.approver if o.exemption else "",
                        "exemption_expired": "yes" if o.expired else "",
                    }
                )
    return rows


def _csv(results: Sequence[ScorecardResult]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(to_rows(results))
    return out.getvalue()


# -- table and Markdown -----------------------------------------------------------


def _counts(result: ScorecardResult) -> str:
    parts = [f"{level_label(result, lv)} {n}" for lv, n in reversed(result.by_level().items())]
    return ", ".join(parts)


def _entities(count: int) -> str:
    return f"{count} entit{'y' if count == 1 else 'ies'}"


def _failing(row: EntityResult) -> str:
    names = [o.rule for o in row.failing]
    names += [f"{o.rule} (exempt)" for o in row.exempt]
    return ", ".join(names) or "-"


def _table(results: Sequence[ScorecardResult], detail: bool) -> str:
    lines: list[str] = []
    for result in results:
        card = result.scorecard
        named = card.name if card.title == card.name else f"{card.name} ({card.title})"
        lines.append(
            f"{named}, version {card.version}, {_entities(len(result.entities))}: {_counts(result)}"
        )
        rows = [("ENTITY", "LEVEL", "SCORE", "FAILING")] + [
            (short(r.entity), level_label(result, r.level), f"{r.score:.0f}%", _failing(r))
            for r in result.entities
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2])]
            lines.append("  " + "  ".join([*cells, row[3]]))
        if detail:
            for r in result.entities:
                lines.append(
                    f"\n  {short(r.entity)}: {level_label(result, r.level)} ({r.score:g}%)"
                )
                width = max(len(o.rule) for o in r.outcomes)
                for o in r.outcomes:
                    lines.append(f"    {o.status:<14} {o.rule:<{width}}  {o.reason}")
                    if o.exemption is not None:
                        lines.append(f"    {'':<14} {'':<{width}}  {_exemption_note(o)}")
        lines.append("")
    if not results:
        lines.append("no scorecard applies (none defined, or none selected)")
    return "\n".join(lines).rstrip("\n") + "\n"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _markdown(results: Sequence[ScorecardResult], detail: bool) -> str:
    out: list[str] = []
    for result in results:
        card = result.scorecard
        out.append(f"## {heading(card)}\n")
        out.append(
            f"Version `{card.version}`, evaluated {result.today}: "
            f"{_entities(len(result.entities))} ({_counts(result)}).\n"
        )
        out.append("| Entity | Level | Score | Failing rules |\n|---|---|---:|---|")
        for r in result.entities:
            failing = ", ".join(f"`{o.rule}`" for o in r.failing) or "-"
            out.append(
                f"| `{short(r.entity)}` | {level_label(result, r.level)} | {r.score:g}% | "
                f"{failing} |"
            )
        out.append("")
        rules = {rule.id: rule for rule in card.rules}
        for r in result.entities:
            shown = r.outcomes if detail else [o for o in r.outcomes if o.status != "pass"]
            shown = [o for o in shown if o.status != "not-applicable" or detail]
            if not shown:
                continue
            out.append(f"### `{short(r.entity)}`\n")
            for o in shown:
                rule = rules[o.rule]
                out.append(f"- **{o.status}** `{o.rule}` ({rule.level}): {_md(o.reason)}")
                if o.exemption is not None:
                    out.append(f"  - {_md(_exemption_note(o))}")
                if o.status == "fail" and rule.fix:
                    out.append("  - How to fix:\n")
                    out.extend(f"    {line}".rstrip() for line in rule.fix.splitlines())
                    out.append("")
            out.append("")
    if not results:
        out.append("No scorecard applies (none defined, or none selected).\n")
    return "\n".join(out).rstrip("\n") + "\n"
