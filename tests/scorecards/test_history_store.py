"""Scorecard history in a real database (SQLite, and PostgreSQL where one runs): what a run
writes, what it reads back, and that the migration builds the tables the models describe."""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql
from sqlalchemy import func, inspect, select

from portal.catalog import EntityRef
from portal.db import Database
from portal.db.models import Base, ScorecardEntityState, ScorecardRun
from portal.db.scorecard_history import History, definition_of
from portal.model import load_model
from portal.scorecards import RuleOutcome, ScorecardResult, evaluate
from portal.settings import Settings
from tests.conftest import write_files

TODAY = date(2026, 11, 26)
POSTGRES_URL = os.environ.get(
    "PORTAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TABLES = {"scorecard_versions", "scorecard_runs", "scorecard_entity_states"}
RULES = 25


def wide_scorecard() -> str:
    """A scorecard of 25 rules over three levels, each asking for one annotation."""
    rules = "".join(
        f"    - id: rule-{i}\n"
        f"      title: Rule {i}\n"
        f"      level: {('bronze', 'silver', 'gold')[i % 3]}\n"
        f"      check: {{type: field-present, path: 'metadata.annotations[\"x/{i}\"]'}}\n"
        for i in range(RULES)
    )
    return (
        "apiVersion: portal.quantum.dev/v1\nkind: Scorecard\nmetadata:\n  name: wide\n"
        "spec:\n  owner: team-a\n  appliesTo: {kind: Component}\n  levels:\n"
        "    - {name: bronze, color: '#b87333'}\n    - {name: silver, color: silver}\n"
        "    - {name: gold, color: gold}\n  rules:\n" + rules
    )


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> ScorecardResult:
    """The scorecard evaluated on one real component, which passes its bronze rules only."""
    root = tmp_path_factory.mktemp("wide")
    notes = "".join(f'    x/{i}: "yes"\n' for i in range(0, RULES, 3))
    write_files(
        root,
        {
            "catalog/wide.yaml": wide_scorecard(),
            "catalog/team.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Group\n"
            "metadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
            "catalog/one.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata:\n  name: one\n  annotations:\n{notes}"
            "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
        },
    )
    model = load_model(Settings(root=root), with_docs=False)
    (result,) = evaluate(model, TODAY)
    return result


def many(result: ScorecardResult, count: int, failing: Collection[int] = ()) -> ScorecardResult:
    """``count`` entities with the one real row's outcomes; those in ``failing`` fail rule-0."""
    (row,) = result.entities
    flipped = (RuleOutcome("rule-0", "fail", "x/0 is missing"), *row.outcomes[1:])
    rows = [
        replace(
            row,
            entity=EntityRef.of("component", "default", f"svc-{n:05d}"),
            outcomes=flipped if n in failing else row.outcomes,
            level=None if n in failing else row.level,
            level_index=-1 if n in failing else row.level_index,
        )
        for n in range(count)
    ]
    return ScorecardResult(result.scorecard, TODAY, tuple(rows))


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of this test's own on the shared server, dropped afterwards.

    Without a server the test skips, saying why, except in CI (``CI=true``), where it fails.
    """
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {str(error).strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so the PostgreSQL tests fail instead of skipping")
        pytest.skip(reason)
    name = f"test_scorecards_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{name}"
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        admin.execute(drop.format(sql.Identifier(name)))
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'portal.db'}"
        else:
            url = stack.enter_context(postgres_database())
        database = Database(url)
        stack.callback(database.dispose)
        database.migrate()
        yield database


def stored_states(db: Database, run_id: int) -> int:
    with db.session() as session:
        query = select(func.count()).where(ScorecardEntityState.run_id == run_id)
        return int(session.scalar(query) or 0)


def test_a_run_stores_only_the_entities_that_changed(db: Database, wide: ScorecardResult) -> None:
    history = History(db)
    definition = definition_of(wide)
    first = history.record(many(wide, 50), definition, "startup")
    same = history.record(many(wide, 50), definition, "build")
    one = history.record(many(wide, 50, failing={7}), definition, "registration", "by x")
    fewer = history.record(many(wide, 49, failing={7}), definition, "registration")
    assert [r.changed for r in (first, same, one, fewer)] == [50, 0, 1, 1]
    assert [stored_states(db, r.id) for r in (first, same, one, fewer)] == [50, 0, 1, 1]
    assert [r.entities for r in (first, same, one, fewer)] == [50, 50, 50, 49]
    assert first.summary["levels"] == {"bronze": 50}
    assert one.summary["levels"] == {"bronze": 49, "": 1}
    assert one.summary["failing"]["rule-0"] == 1
    assert one.summary["failing"]["rule-1"] == 50  # a silver rule nobody passes
    rows = history.states(str(wide.ref), "component:default/svc-00049", first.id, fewer.id)
    assert [(run, state.present) for run, _v, state in rows] == [
        (first.id, True),
        (fewer.id, False),
    ]
    seven = history.states(str(wide.ref), "component:default/svc-00007", first.id, fewer.id)
    statuses = [state.by_rule(definition)["rule-0"] for _run, _v, state in seven]
    assert statuses == ["pass", "fail"]


def test_another_process_recording_in_between_is_not_missed(
    db: Database, wide: ScorecardResult
) -> None:
    mine, replica = History(db), History(db)
    definition = definition_of(wide)
    mine.record(many(wide, 5), definition, "startup")
    replica.record(many(wide, 5, failing={1}), definition, "registration")
    # Were my memory of the last states trusted, svc-00001 would look unchanged to me.
    back = mine.record(many(wide, 5), definition, "build")
    assert back.changed == 1


def test_ten_thousand_entities_by_twenty_five_rules_in_one_bulk_write(
    db: Database, wide: ScorecardResult
) -> None:
    history = History(db)
    definition = definition_of(wide)
    assert len(definition.rules) == RULES
    full = history.record(many(wide, 10_000), definition, "startup")
    assert full.changed == 10_000 and stored_states(db, full.id) == 10_000
    again = history.record(many(wide, 10_000, failing={42}), definition, "build")
    assert again.changed == 1
    with db.session() as session:
        lengths = set(session.scalars(select(func.length(ScorecardEntityState.statuses))))
    assert lengths == {RULES}  # one letter per rule


def test_an_unknown_trigger_is_refused_before_anything_is_written(
    db: Database, wide: ScorecardResult
) -> None:
    with pytest.raises(ValueError, match="trigger 'cron': expected one of startup, registration"):
        History(db).record(wide, definition_of(wide), "cron")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ScorecardRun)) == 0


def test_the_migration_builds_what_the_models_describe(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in differences if TABLES & set(_tables(d))]
    assert ours == []
    assert set(inspect(db.engine).get_table_names()) >= TABLES


def _tables(difference: object) -> list[str]:
    """Table names a compare_metadata difference touches (it nests tuples and lists)."""
    found: list[str] = []
    items = difference if isinstance(difference, list | tuple) else [difference]
    for item in items:
        if isinstance(item, list | tuple):
            found += _tables(item)
        elif isinstance(item, str):  # ("add_column", schema, table name, column), ...
            found.append(item)
        elif (name := getattr(item, "name", None)) is not None:
            found.append(str(name))
            table = getattr(item, "table", None)
            if table is not None:
                found.append(str(table.name))
    return found
