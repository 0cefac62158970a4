"""How long evaluating scorecards takes next to loading the same catalog, in one run.

The corpus is ``bench.corpus``'s generated catalog (default 10,000 entities)
plus one scorecard of 25 rules, using every built-in check type, that applies
to every entity. Load: ``load_catalog`` (read, parse, validate, relate, plugin
hooks), as ``python -m bench catalog`` times it. Evaluate: compiling the
scorecards (``load_scorecards``) and ``evaluate`` on every entity. The model
evaluation reads also holds what a docs build would have made, prepared
outside the timings: doc pages for a third of the components, and every API's
rendered reference. Goal: evaluate <= 0.5x load. Times alternate between the
two so drift in the machine hits both.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.catalog_load import PATTERN, corpus_main
from portal.apis import render_api
from portal.catalog import LoadResult, load_catalog
from portal.docs.model import DocPage, DocSet
from portal.model import Model
from portal.plugins import get_plugin_manager
from portal.problems import Report
from portal.scorecards import evaluate, load_scorecards
from portal.settings import Settings

GOAL = 0.5
TODAY = date(2026, 11, 26)
SCORECARD_FILE = "catalog/scorecards/bench.yaml"

RULES: list[tuple[str, str, str, str]] = [
    # (id, level, appliesTo (flow YAML or ""), check (flow YAML))
    ("owner-team", "bronze", "", "{type: relation-count, relation: ownedBy, kind: group}"),
    ("owner-exists", "bronze", "", "{type: relation-count, relation: ownedBy}"),
    (
        "in-system",
        "bronze",
        "{kind: [Component, API, Resource]}",
        "{type: relation-count, relation: partOf, kind: system}",
    ),
    ("description", "bronze", "", "{type: field-present, path: metadata.description}"),
    ("title", "silver", "", "{type: field-present, path: metadata.title}"),
    (
        "production",
        "silver",
        "{kind: [Component, API]}",
        "{type: field-equals, path: spec.lifecycle, value: production}",
    ),
    (
        "typed",
        "bronze",
        "{kind: [Component, API, Resource]}",
        "{type: field-present, path: spec.type}",
    ),
    (
        "techdocs",
        "silver",
        "",
        "{type: field-matches, path: 'metadata.annotations[\"backstage.io/techdocs-ref\"]', "
        "pattern: '^dir:'}",
    ),
    (
        "repository-slug",
        "silver",
        "",
        "{type: field-matches, path: 'metadata.annotations[\"github.com/project-slug\"]', "
        "pattern: '^acme/'}",
    ),
    (
        "pagerduty",
        "gold",
        "{type: service}",
        "{type: field-present, path: 'metadata.annotations[\"pagerduty.com/service-id\"]'}",
    ),
    (
        "kubernetes",
        "gold",
        "{type: service}",
        "{type: field-present, path: 'metadata.annotations[\"backstage.io/kubernetes-id\"]'}",
    ),
    (
        "tier-label",
        "silver",
        "",
        "{type: field-equals, path: metadata.labels.tier, values: ['1', '2', '3']}",
    ),
    (
        "cost-center",
        "gold",
        "",
        "{type: field-matches, path: 'metadata.labels[\"cost-center\"]', pattern: '^cc-[0-9]+$'}",
    ),
    ("dashboard-link", "gold", "{kind: Component}", "{type: link-exists, linkType: dashboard}"),
    (
        "runbook-link",
        "gold",
        "{kind: Component}",
        "{type: link-exists, linkType: runbook, url: '^https://'}",
    ),
    ("links", "silver", "", "{type: expression, expr: 'count(metadata.links) >= 1'}"),
    ("tagged", "bronze", "", "{type: expression, expr: 'count(metadata.tags) >= 1'}"),
    (
        "tier-tag",
        "gold",
        "{kind: Component}",
        '{type: expression, expr: \'has_tag("tier-1") or has_tag("tier-2")\'}',
    ),
    ("docs", "silver", "{kind: Component}", "{type: docs-exist}"),
    ("docs-reviewed", "gold", "{kind: Component}", "{type: docs-reviewed, days: 90}"),
    ("api-valid", "silver", "{kind: [Component, API]}", "{type: api-valid, min: 0}"),
    (
        "provides-api",
        "gold",
        "{kind: Component, type: service}",
        "{type: relation-count, relation: providesApi}",
    ),
    (
        "few-dependencies",
        "silver",
        "{kind: Component}",
        "{type: relation-count, relation: dependsOn, min: 0, max: 3}",
    ),
    (
        "basics",
        "silver",
        "",
        '{type: expression, expr: \'passed("owner-team") and passed("description")\'}',
    ),
    (
        "paged-unless-deprecated",
        "gold",
        "{kind: Component}",
        '{type: expression, expr: \'lower(spec.lifecycle) == "deprecated" or '
        'exists(metadata.annotations["pagerduty.com/service-id"])\'}',
    ),
]


def scorecard_yaml() -> str:
    """The benchmark's scorecard: 25 rules over every entity (owner: the generated org)."""
    lines = [
        "apiVersion: portal.quantum.dev/v1",
        "kind: Scorecard",
        "metadata:",
        "  name: bench",
        "spec:",
        "  owner: acme-corp",
        "  levels:",
        "    - {name: bronze, color: '#b87333'}",
        "    - {name: silver, color: '#8a9597'}",
        "    - {name: gold, color: '#c9a227'}",
        "  rules:",
    ]
    for rule_id, level, applies, check in RULES:
        lines += [f"    - id: {rule_id}", f"      title: {rule_id}", f"      level: {level}"]
        if applies:
            lines.append(f"      appliesTo: {applies}")
        lines.append(f"      check: {check}")
    return "\n".join(lines) + "\n"


def load(root: Path) -> LoadResult:
    """The catalog as the portal loads it, as ``python -m bench catalog`` times it."""
    return load_catalog(Settings(root=root, catalog_paths=[PATTERN]))


def prepared_model(root: Path, loaded: LoadResult, seed: int) -> Model:
    """A model with what a docs build would add: doc pages for some components, API references."""
    rng = random.Random(seed)
    settings = Settings(root=root, catalog_paths=[PATTERN])
    docs = DocSet(root / "docs")
    for entity in loaded.catalog.of_kind("component"):
        if rng.random() < 0.35:
            owners = entity.related("ownedBy")
            path = f"services/{entity.name}.md"
            docs.pages[path] = DocPage(
                path=path,
                source=root / "docs" / path,
                display=f"docs/{path}",
                title=entity.title,
                body="",
                body_line=1,
                owner=owners[0] if owners else None,
                reviewed=TODAY - timedelta(days=rng.randint(0, 200)),
                tags=(entity.name.lower(),),
            )
    model = Model(settings, loaded.catalog, Report(), loaded.files, None, docs)
    for api in loaded.catalog.of_kind("api"):
        model.apis[api.ref] = render_api(
            name=api.name,
            api_type=str(api.spec.get("type", "")),
            definition=api.spec.get("definition"),
            title=api.metadata.get("title"),
            description=api.description or None,
        )
    return model


def main(argv: list[str] | None = None) -> int:
    return corpus_main(argv, "scorecards", __doc__, _run)


def _run(
    args: argparse.Namespace, root: Path, corpus: dict[str, Any], say: Callable[[str], None]
) -> int:
    scorecard = root / SCORECARD_FILE
    scorecard.parent.mkdir(parents=True, exist_ok=True)
    scorecard.write_text(scorecard_yaml(), encoding="utf-8")

    # The check is also the warm-up: imports done, every file in the page cache.
    loaded = load(root)
    pm = get_plugin_manager(root)
    report = loaded.report
    model = prepared_model(root, loaded, args.seed)
    compiled = load_scorecards(model.catalog, pm, report)
    if report.problems or len(compiled) != 1:
        for problem in report.sorted()[:20]:
            print(problem.format(), file=sys.stderr)
        print("error: the corpus and its scorecard must load with no problems", file=sys.stderr)
        return 1
    results = evaluate(model, TODAY, scorecards=compiled)
    evaluated = len(results[0].entities)
    rules = len(compiled[0].rules)
    say(
        f"check: {len(loaded.catalog):,} entities loaded, the scorecard of {rules} rules "
        f"evaluated on {evaluated:,} of them, levels {_levels(results[0].by_level())}"
    )

    def load_once() -> Any:
        return load(root)

    def evaluate_once() -> Any:
        cards = load_scorecards(model.catalog, pm, Report())
        return evaluate(model, TODAY, scorecards=cards)

    times = _time({"load": load_once, "evaluate": evaluate_once}, args.repeat)
    figures = _figures(corpus, evaluated, rules, args.repeat, times)
    print(json.dumps(figures, indent=2) if args.json else _table(figures))
    return 0


def _levels(counts: dict[str | None, int]) -> str:
    return ", ".join(f"{level or 'none'} {n:,}" for level, n in counts.items())


def _time(approaches: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in approaches}
    order = list(approaches)
    for run in range(repeat):
        for name in order if run % 2 == 0 else order[::-1]:
            gc.collect()
            started = time.perf_counter()
            result = approaches[name]()
            times[name].append(time.perf_counter() - started)
            del result  # freed outside the timed part
    return times


def _figures(
    corpus: dict[str, Any], evaluated: int, rules: int, repeat: int, times: dict[str, list[float]]
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "entities": corpus["entities"],
        "files": corpus["files"],
        "seed": corpus["seed"],
        "evaluated_entities": evaluated,
        "rules": rules,
        "repeat": repeat,
    }
    for name, runs in times.items():
        figures[name] = {"best_s": min(runs), "median_s": statistics.median(runs), "runs_s": runs}
    load_s, evaluate_s = figures["load"], figures["evaluate"]
    figures["ratio"] = {
        "best": evaluate_s["best_s"] / load_s["best_s"],
        "median": evaluate_s["median_s"] / load_s["median_s"],
    }
    figures["goal"] = {
        "max_ratio": GOAL,
        "judged_on": "best",
        "met": figures["ratio"]["best"] <= GOAL,
    }
    return figures


def _table(figures: dict[str, Any]) -> str:
    load_s, evaluate_s, ratio = figures["load"], figures["evaluate"], figures["ratio"]
    rows = [
        ("", "best", "median"),
        ("load (load_catalog)", f"{load_s['best_s']:.3f} s", f"{load_s['median_s']:.3f} s"),
        (
            f"evaluate ({figures['rules']} rules)",
            f"{evaluate_s['best_s']:.3f} s",
            f"{evaluate_s['median_s']:.3f} s",
        ),
        ("ratio evaluate / load", f"{ratio['best']:.2f}x", f"{ratio['median']:.2f}x"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"scorecards: {figures['evaluated_entities']:,} entities x {figures['rules']} rules, "
        f"catalog of {figures['entities']:,} entities in {figures['files']:,} files, "
        f"best and median of {figures['repeat']} alternating runs",
        "",
    ]
    for row in rows:
        lines.append(
            "  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2])])
        )
    goal = figures["goal"]
    verdict = "met" if goal["met"] else "NOT met"
    lines += [
        "",
        f"goal: evaluate <= {goal['max_ratio']:.1f}x load (best vs best): {verdict} "
        f"({ratio['best']:.2f}x)",
        "runs (s): load "
        + " ".join(f"{t:.3f}" for t in load_s["runs_s"])
        + " | evaluate "
        + " ".join(f"{t:.3f}" for t in evaluate_s["runs_s"]),
    ]
    return "\n".join(lines)
