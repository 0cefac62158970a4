"""Site builds across replicas: one at a time, and one left behind by a dead replica is taken
over by another (its audiences left queued or building while nobody holds the lease)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from portal.db import BuildState
from portal.db.leases import Leases
from portal.settings import Settings
from portal.web.replicas import BUILDS
from tests.sites.conftest import small_repo
from tests.web.conftest import client_for

HOUR = 3600.0


def left_behind(settings: Settings, status: str, age: timedelta) -> None:
    from portal.db import Database

    db = Database(settings.database)
    try:
        with db.session() as session:
            session.merge(
                BuildState(
                    audience="staff",
                    status=status,
                    reason="registered by someone@example.com",
                    message="",
                    updated_at=datetime.now(UTC) - age,
                )
            )
    finally:
        db.dispose()


def test_a_build_left_by_a_dead_replica_is_taken_over(tmp_path: Path, postgres_url: str) -> None:
    root = small_repo(tmp_path / "repo")
    settings = Settings(
        root=root,
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        changes_poll_seconds=HOUR,
        lease_seconds=5,
    )
    client, portal = client_for(settings, rebuild=True)
    with client:
        left_behind(settings, "queued", timedelta(seconds=2))
        assert portal.replicas.sweep() == []  # too recent: its replica may be about to build
        left_behind(settings, "running", timedelta(minutes=5))
        other = Leases(portal.db)  # a live replica, building now
        try:
            with other.exclusive(BUILDS, lambda: False):
                assert portal.replicas.sweep() == []
        finally:
            other.stop()
        assert portal.replicas.sweep() == ["staff"]
        assert portal.builder.wait_idle(300), "the build did not finish"
        state = portal.build_states()["staff"]
        assert (state.status, state.reason) == ("built", "taken over from a replica that stopped")
        assert (root / "site" / "staff" / "index.html").is_file()
        assert portal.replicas.sweep() == []  # nothing left behind now


def test_with_sqlite_nothing_is_taken_over(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    settings = Settings(root=root, data_dir=tmp_path / "data")
    client, portal = client_for(settings, rebuild=True)
    with client:
        left_behind(settings, "running", timedelta(minutes=5))
        assert portal.replicas.sweep() == []  # one process: serve builds what is stale itself
