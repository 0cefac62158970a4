"""Leases on background work in a real PostgreSQL database: one holder among the replicas,
and another takes over when the holder stops, dies or is cut off.

Each ``Leases`` stands for one replica (its own database session). The tests call
``check()`` by hand, as the replica's thread does every PORTAL_LEASE_SECONDS, so that
nothing here waits on time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from portal.db import Database
from portal.db.leases import Leases


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url)
    db.migrate()
    yield db
    db.dispose()


def replicas(database: Database, count: int) -> list[Leases]:
    return [Leases(database, check_seconds=3600) for _ in range(count)]


def kill_session(database: Database, leases: Leases) -> None:
    """End a replica's lease session from the server's side, as PostgreSQL does when the
    replica's process dies or its keepalives go unanswered."""
    pid = leases._pid
    assert pid is not None
    with database.engine.connect() as connection:
        ended = connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert ended.scalar() is True
        # The signal is sent; the session (and its locks) ends a moment later.
        deadline = time.monotonic() + 30
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        while connection.execute(alive, {"pid": pid}).scalar():
            assert time.monotonic() < deadline, "the session did not end within 30 s"
            connection.rollback()  # a new transaction: statistics are a snapshot per transaction
            time.sleep(0.01)


def test_one_replica_holds_a_lease_and_another_takes_over_when_it_stops(
    database: Database,
) -> None:
    a, b, c = replicas(database, 3)
    taken: list[str] = []
    for name, leases in (("a", a), ("b", b), ("c", c)):
        leases.want("probes", lambda name=name: taken.append(name))  # type: ignore[misc]
    try:
        a.check()
        b.check()
        c.check()
        assert [a.held("probes"), b.held("probes"), c.held("probes")] == [True, False, False]
        b.check()
        assert not b.held("probes")  # trying again changes nothing while a holds it
        a.stop()  # a replica shutting down gives its leases back at once
        b.check()
        c.check()
        assert [b.held("probes"), c.held("probes")] == [True, False]
        assert taken == ["a", "b"]
    finally:
        for leases in (a, b, c):
            leases.stop()


def test_a_replica_whose_session_ended_loses_the_lease_and_notices(database: Database) -> None:
    a, b = replicas(database, 2)
    a.want("scorecards")
    b.want("scorecards")
    try:
        a.check()
        assert a.held("scorecards")
        kill_session(database, a)  # a's process died, or its network did
        b.check()
        assert b.held("scorecards")
        assert a.held("scorecards")  # a does not know yet...
        a.check()
        assert not a.held("scorecards")  # ...until its next check, which finds it gone
        a.check()
        assert not a.held("scorecards")  # and b keeps it
        assert b.held("scorecards")
    finally:
        a.stop()
        b.stop()


def test_different_leases_may_be_held_by_different_replicas(database: Database) -> None:
    a, b = replicas(database, 2)
    a.want("probes")
    b.want("scorecards")
    b.want("probes")
    try:
        a.check()
        b.check()
        assert a.holders() == ["probes"]
        assert b.holders() == ["scorecards"]
    finally:
        a.stop()
        b.stop()


def test_exclusive_work_waits_for_the_other_replica(database: Database) -> None:
    a, b = replicas(database, 2)
    order: list[str] = []
    b_waiting = threading.Event()
    b_done = threading.Event()

    def b_builds() -> None:
        b_waiting.set()
        with b.exclusive("builds", lambda: False, poll=0.01) as mine:
            assert mine
            order.append("b builds")
        b_done.set()

    try:
        with a.exclusive("builds", lambda: False) as mine:
            assert mine
            assert not b.free("builds")
            thread = threading.Thread(target=b_builds)
            thread.start()
            b_waiting.wait(30)
            order.append("a builds")
            assert not b_done.is_set()  # b cannot have it while a builds
        thread.join(30)
        assert order == ["a builds", "b builds"]
        assert a.free("builds") and b.free("builds")
    finally:
        a.stop()
        b.stop()


def test_exclusive_work_gives_up_waiting_when_the_replica_stops(database: Database) -> None:
    a, b = replicas(database, 2)
    try:
        with a.exclusive("builds", lambda: False), b.exclusive("builds", lambda: True) as mine:
            assert not mine
    finally:
        a.stop()
        b.stop()


def test_with_sqlite_every_lease_is_the_process_own(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'portal.db'}")
    db.migrate()
    leases = Leases(db)
    leases.want("probes")
    leases.start()
    try:
        assert not leases.shared
        assert leases.held("probes")
        assert leases.free("builds")
        with leases.exclusive("builds", lambda: False) as mine:
            assert mine
    finally:
        leases.stop()
        db.dispose()
