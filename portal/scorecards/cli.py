"""The bodies of ``portal scorecard``, ``portal scorecard diff`` and ``portal scorecard test``.

``portal/cli.py`` declares the commands and their options; the work is here so
the command line stays a thin layer over the public API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import click

from portal.catalog.refs import EntityRef, RefError, parse_ref
from portal.model import Model, load_model
from portal.scorecards.definition import Scorecard
from portal.scorecards.diff import ScorecardChange, checkout, compare, render_changes
from portal.scorecards.evaluate import evaluate
from portal.scorecards.fixtures import run_fixtures
from portal.scorecards.formats import level_label, render
from portal.settings import Settings

__all__ = ["diff_command", "report_command", "test_command"]


def select(model: Model, names: Sequence[str]) -> list[Scorecard]:
    """The scorecards named (all when none is), or a usage error naming the unknown one."""
    known = {s.name: s for s in model.scorecards}
    for name in names:
        if name not in known:
            broken = any(e.name == name for e in model.catalog.of_kind("scorecard"))
            why = " has errors (portal validate shows them)" if broken else " does not exist"
            listed = ", ".join(sorted(known)) or "none"
            raise click.UsageError(f"--scorecard {name}: that scorecard{why} (usable: {listed})")
    return [known[name] for name in names] if names else list(model.scorecards)


def _problems(model: Model) -> bool:
    """Print the model's errors to stderr; True when there are any."""
    errors = model.report.errors
    for problem in errors:
        click.echo(problem.format(), err=True)
    if errors:
        click.echo(
            f"{len(errors)} error{'s' * (len(errors) != 1)} in the catalog, docs or scorecards: "
            "results may be incomplete (a scorecard with errors is not evaluated)",
            err=True,
        )
    return bool(errors)


def report_command(
    model: Model,
    *,
    fmt: str,
    entities: Sequence[str],
    names: Sequence[str],
    fail_under: str | None,
    today: date,
) -> int:
    """Print results; the exit status: 1 when any selected entity is below ``fail_under``."""
    scorecards = select(model, names)
    refs = [_entity_ref(model, text) for text in entities]
    if fail_under is not None and not any(s.level_index(fail_under) >= 0 for s in scorecards):
        levels = sorted({level.name for s in scorecards for level in s.levels})
        raise click.UsageError(
            f"--fail-under {fail_under}: no selected scorecard has that level "
            f"(levels: {', '.join(levels) or 'none'})"
        )
    results = evaluate(model, today, scorecards=scorecards, entities=refs or None)
    if refs and not any(r.entities for r in results):
        shown = ", ".join(str(ref) for ref in refs)
        click.echo(f"no selected scorecard applies to {shown}", err=True)
    click.echo(render(results, fmt, detail=bool(refs)), nl=False)
    failed = _problems(model)
    below = []
    if fail_under is not None:
        for result in results:
            wanted = result.scorecard.level_index(fail_under)
            if wanted < 0:
                continue
            below += [
                f"{row.entity.short()} is {level_label(result, row.level)} on "
                f"{result.scorecard.name}, below {fail_under}"
                for row in result.entities
                if row.level_index < wanted
            ]
    for line in below:
        click.echo(line, err=True)
    if below:
        click.echo(f"{len(below)} below {fail_under}", err=True)
    return 1 if failed or below else 0


def _entity_ref(model: Model, text: str) -> EntityRef:
    try:
        ref = parse_ref(text, default_kind="component")
    except RefError as exc:
        raise click.UsageError(f"--entity {text}: not an entity ref: it {exc.reason}") from None
    if ref not in model.catalog:
        raise click.UsageError(f"--entity {text}: {ref} is not in the catalog")
    return ref


def diff_command(
    settings: Settings,
    *,
    base: str,
    fmt: str,
    names: Sequence[str],
    today: date,
    fail_on_regression: bool,
) -> int:
    """Compare the working tree's results with ``base``'s; 1 on a regression when asked."""
    head = load_model(settings)
    scorecards = select(head, names)
    after = evaluate(head, today, scorecards=scorecards)
    with checkout(settings.root, base) as base_root:
        before_model = load_model(settings.model_copy(update={"root": base_root}), cache=False)
        chosen = [s for s in before_model.scorecards if not names or s.name in names]
        before = evaluate(before_model, today, scorecards=chosen)
    changes = compare(before, after)
    if fmt == "json":
        click.echo(json.dumps(_changes_json(changes), indent=2))
    else:
        click.echo(render_changes(changes, base, fmt), nl=False)
    failed = _problems(head)
    regressions = sum(1 for c in changes for e in c.entities if e.regressed)
    if fail_on_regression and regressions:
        click.echo(
            f"{regressions} entit{'ies' if regressions != 1 else 'y'} dropped a level", err=True
        )
        return 1
    return 1 if failed else 0


def _changes_json(changes: Sequence[ScorecardChange]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for change in changes:
        out.append(
            {
                "scorecard": change.name,
                "version_before": change.before.version if change.before else None,
                "version_after": change.after.version if change.after else None,
                "entities": [
                    {
                        "entity": str(e.entity),
                        "level_before": e.before.level if e.before else None,
                        "level_after": e.after.level if e.after else None,
                        "score_before": e.before.score if e.before else None,
                        "score_after": e.after.score if e.after else None,
                        "regressed": e.regressed,
                        "now_failing": [
                            {"rule": o.rule, "reason": o.reason} for o in e.now_failing
                        ],
                        "now_passing": list(e.now_passing),
                        "exemptions": list(e.other),
                    }
                    for e in change.entities
                ],
            }
        )
    return out


def test_command(model: Model, *, names: Sequence[str], today: date) -> int:
    """Run every rule's fixtures; 1 when any gives another outcome than promised."""
    from portal.catalog.kinds import registered_kinds
    from portal.plugins import get_plugin_manager

    scorecards = select(model, names)
    kinds = registered_kinds(get_plugin_manager(model.settings.root))
    run = run_fixtures(model, today, scorecards, kinds)
    for failure in run.failures:
        click.echo(failure.format())
    failed = _problems(model)
    untested = sum(1 for s in scorecards for r in s.rules if not r.fixtures)
    click.echo(
        f"{run.fixtures} fixture{'s' * (run.fixtures != 1)} of {run.rules} "
        f"rule{'s' * (run.rules != 1)} in {len(scorecards)} scorecard"
        f"{'s' * (len(scorecards) != 1)}: {len(run.failures)} failed"
        + (f" ({untested} rules have no fixtures)" if untested else ""),
        err=True,
    )
    return 1 if run.failures or failed else 0
