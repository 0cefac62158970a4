"""Scorecards: standards as code in the catalog, evaluated per entity and rule with reasons.

A ``Scorecard`` entity (``apiVersion: portal.quantum.dev/v1``) says which
entities it applies to, its ordered levels and its rules; each rule names a
check type (built in, or added by a plugin through ``portal_scorecard_checks``).
:func:`portal.model.load_model` compiles the scorecards once into
``model.scorecards`` and reports every bad one at file and line.

Typical use::

    model = load_model(settings)
    for result in evaluate(model, date.today()):
        result.scorecard.name, result.version          # which scorecard, which definition
        for row in result.entities:                    # EntityResult per entity it applies to
            row.entity, row.level, row.score           # EntityRef, level name or None, 0-100
            for outcome in row.outcomes:               # RuleOutcome per rule, in rule order
                outcome.rule, outcome.status, outcome.reason, outcome.exemption

Nothing here reads files or the database after the model is loaded, and nothing
imports the web layer.
"""

from portal.scorecards.checks import (
    BUILTIN_CHECKS,
    Check,
    CheckOptions,
    CheckType,
    DefinitionError,
    registered_checks,
)
from portal.scorecards.context import EntityDocs, EvalContext
from portal.scorecards.definition import (
    API_VERSION,
    SCORECARD_KIND,
    Fixture,
    Level,
    Rule,
    Scorecard,
)
from portal.scorecards.evaluate import evaluate, evaluate_entity, load_scorecards
from portal.scorecards.exemptions import EXEMPTIONS, read_exemptions
from portal.scorecards.expressions import FUNCTIONS, EvalError, ExpressionError, compile_expression
from portal.scorecards.fixtures import FixtureFailure, run_fixtures
from portal.scorecards.results import (
    STATUSES,
    EntityResult,
    Exemption,
    RuleOutcome,
    ScorecardResult,
    Status,
)

__all__ = [
    "API_VERSION",
    "BUILTIN_CHECKS",
    "EXEMPTIONS",
    "FUNCTIONS",
    "SCORECARD_KIND",
    "STATUSES",
    "Check",
    "CheckOptions",
    "CheckType",
    "DefinitionError",
    "EntityDocs",
    "EntityResult",
    "EvalContext",
    "EvalError",
    "Exemption",
    "ExpressionError",
    "Fixture",
    "FixtureFailure",
    "Level",
    "Rule",
    "RuleOutcome",
    "Scorecard",
    "ScorecardResult",
    "Status",
    "compile_expression",
    "evaluate",
    "evaluate_entity",
    "load_scorecards",
    "read_exemptions",
    "registered_checks",
    "run_fixtures",
]
