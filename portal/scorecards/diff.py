"""What a change does to scorecards: the working tree against a base commit, per entity and rule.

The base commit is read with ``git archive`` into a temporary folder (the
repository's own state, worktrees and index, is never touched), loaded and
evaluated like the working tree, and the two results compared.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from portal.catalog.refs import EntityRef
from portal.exceptions import PortalError
from portal.scorecards.definition import Scorecard
from portal.scorecards.formats import heading
from portal.scorecards.results import EntityResult, RuleOutcome, ScorecardResult

__all__ = ["EntityChange", "ScorecardChange", "checkout", "compare", "render_changes"]


@dataclass(frozen=True, slots=True)
class EntityChange:
    """How one entity's result on one scorecard changed; ``before``/``after`` None: absent."""

    entity: EntityRef
    before: EntityResult | None
    after: EntityResult | None
    now_failing: tuple[RuleOutcome, ...] = ()
    now_passing: tuple[str, ...] = ()
    other: tuple[str, ...] = ()  # exemptions that started, ended or expired

    @property
    def regressed(self) -> bool:
        before = self.before.level_index if self.before else -1
        after = self.after.level_index if self.after else -1
        return self.after is not None and self.before is not None and after < before


@dataclass(frozen=True, slots=True)
class ScorecardChange:
    """One scorecard's changes; ``before``/``after`` None when it is new or removed."""

    name: str
    before: ScorecardResult | None
    after: ScorecardResult | None
    entities: tuple[EntityChange, ...] = field(default=())

    @property
    def scorecard(self) -> Scorecard:
        result = self.after or self.before
        assert result is not None  # compare() never builds a change of nothing
        return result.scorecard

    @property
    def redefined(self) -> bool:
        return bool(self.before and self.after and self.before.version != self.after.version)


def compare(
    before: Sequence[ScorecardResult], after: Sequence[ScorecardResult]
) -> list[ScorecardChange]:
    """Every scorecard whose definition or results differ, with each entity that changed."""
    old = {r.scorecard.name: r for r in before}
    new = {r.scorecard.name: r for r in after}
    changes = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        entities = _entity_changes(a, b)
        if entities or a is None or b is None or a.version != b.version:
            changes.append(ScorecardChange(name, a, b, tuple(entities)))
    return changes


def _entity_changes(a: ScorecardResult | None, b: ScorecardResult | None) -> list[EntityChange]:
    old = {r.entity: r for r in a.entities} if a else {}
    new = {r.entity: r for r in b.entities} if b else {}
    out = []
    for ref in sorted(old.keys() | new.keys()):
        x, y = old.get(ref), new.get(ref)
        if x is None or y is None:
            out.append(EntityChange(ref, x, y))
            continue
        before = {o.rule: o for o in x.outcomes}
        failing = tuple(
            o
            for o in y.outcomes
            if o.status == "fail" and (o.rule not in before or before[o.rule].status != "fail")
        )
        passing = tuple(
            o.rule
            for o in y.outcomes
            if o.counts_as_passed and o.rule in before and before[o.rule].status == "fail"
        )
        other = tuple(_exemption_change(before.get(o.rule), o) for o in y.outcomes)
        notes = tuple(note for note in other if note)
        if failing or passing or notes or x.level != y.level or x.score != y.score:
            out.append(EntityChange(ref, x, y, failing, passing, notes))
    return out


def _exemption_change(before: RuleOutcome | None, after: RuleOutcome) -> str:
    if before is None:
        return ""
    if after.status == "exempt" and before.status != "exempt":
        return f"{after.rule} now exempt until {after.exemption.expires if after.exemption else ''}"
    if before.status == "exempt" and after.status == "fail":
        return f"{after.rule} no longer exempt" + (" (expired)" if after.expired else "")
    return ""


def render_changes(changes: Sequence[ScorecardChange], base: str, fmt: str = "markdown") -> str:
    """The changes as Markdown for a pull request, or as plain text lines."""
    if fmt == "text":
        return _text(changes, base)
    if not changes:
        return f"No scorecard changes against `{base}`.\n"
    out = [f"## Scorecard changes against `{base}`\n"]
    for change in changes:
        out.append(f"### {heading(change.scorecard)}\n")
        if change.before is None:
            out.append("New scorecard.\n")
        elif change.after is None:
            out.append("This scorecard is removed.\n")
            continue
        elif change.redefined:
            out.append(
                f"The scorecard's rules changed (version `{change.before.version}` → "
                f"`{change.after.version}`): changes below may come from the new rules.\n"
            )
        if not change.entities:
            continue
        out.append("| Entity | Level | Score | What changed |\n|---|---|---:|---|")
        for entity in change.entities:
            out.append(
                f"| `{entity.entity.short()}` | {_level(change, entity)} | {_score(entity)} | "
                f"{_what(entity, markdown=True)} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _text(changes: Sequence[ScorecardChange], base: str) -> str:
    if not changes:
        return f"no scorecard changes against {base}\n"
    lines = []
    for change in changes:
        if change.before is None:
            lines.append(f"{change.name}: new scorecard")
        elif change.after is None:
            lines.append(f"{change.name}: removed")
        elif change.redefined:
            lines.append(
                f"{change.name}: rules changed ({change.before.version} -> {change.after.version})"
            )
        for entity in change.entities:
            lines.append(
                f"{change.name}: {entity.entity.short()}: {_level(change, entity, arrow='->')}"
                f"{', ' + _what(entity) if _what(entity) != '-' else ''}"
            )
    return "\n".join(lines) + "\n"


def _label(change: ScorecardChange, row: EntityResult | None) -> str:
    if row is None:
        return "not scored"
    return row.level or f"below {change.scorecard.levels[0].name}"


def _level(change: ScorecardChange, entity: EntityChange, arrow: str = "→") -> str:
    before, after = _label(change, entity.before), _label(change, entity.after)
    if before == after:
        return after
    mark = " ⬇" if entity.regressed and arrow == "→" else ""
    return f"{before} {arrow} {after}{mark}"


def _score(entity: EntityChange) -> str:
    a = f"{entity.before.score:g}%" if entity.before else "-"
    b = f"{entity.after.score:g}%" if entity.after else "-"
    return b if a == b else f"{a} → {b}"


def _what(entity: EntityChange, *, markdown: bool = False) -> str:
    def code(text: str) -> str:
        return f"`{text}`" if markdown else text

    parts = []
    if entity.before is None:
        parts.append("now scored")
    elif entity.after is None:
        parts.append("no longer scored (removed, or the scorecard no longer applies)")
    for outcome in entity.now_failing:
        reason = outcome.reason.replace("|", "\\|") if markdown else outcome.reason
        parts.append(f"fails {code(outcome.rule)}: {reason}")
    if entity.now_passing:
        parts.append("passes " + ", ".join(code(rule) for rule in entity.now_passing))
    parts.extend(entity.other)
    return "; ".join(parts) or "-"


# -- the base commit --------------------------------------------------------------


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=False, timeout=120
        )
    except FileNotFoundError:
        raise PortalError("git is not installed, and scorecard diff needs it") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PortalError(f"git {' '.join(args[:2])}: {message[-1] if message else 'failed'}")
    return done.stdout


@contextmanager
def checkout(root: Path, ref: str) -> Iterator[Path]:
    """The repository at ``ref`` in a temporary folder: the root's counterpart inside it."""
    if ref.startswith("-"):
        raise PortalError(f"--base {ref!r}: a git ref cannot start with '-'")
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except PortalError:
        raise PortalError(f"--base {ref!r} is not a commit of the repository at {root}") from None
    prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip())
    archive = _git(top, "archive", "--format=tar", ref)
    with tempfile.TemporaryDirectory(prefix="portal-scorecard-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / prefix
