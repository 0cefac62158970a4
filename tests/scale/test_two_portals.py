"""Two portals in one test process sharing PostgreSQL (state and search) and Redis, as two
replicas do: what one stores, the other shows; background work is done once.

The replicas' own threads are slowed to once an hour here, and the test does their
rounds by hand (``replicas.poll()``, ``leases.check()``), so nothing waits on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from portal.auth.tokens import FAILURES_PER_MINUTE
from portal.db.models import AuditEvent, ScorecardRun
from portal.settings import Settings
from portal.web.runtime import Portal
from portal.web.signin import LOGINS_PER_MINUTE
from tests.auth.conftest import Admin, bearer
from tests.conftest import component
from tests.scale.conftest import Redis
from tests.scorecards.web_fixtures import scorecard_repo, settle
from tests.web.conftest import client_for

HOUR = 3600.0


def replica(root: Path, name: str, database: str, redis: Redis) -> tuple[TestClient, Portal]:
    settings = Settings(
        root=root,
        data_dir=root.parent / f"data-{name}",
        database_url=database,
        search_engine="postgres",
        redis_url=redis.url,
        redis_prefix=redis.prefix,
        changes_poll_seconds=HOUR,
        lease_seconds=HOUR,
        live_probe_interval=0,
    )
    return client_for(settings)


@pytest.fixture
def pair(
    tmp_path: Path, postgres_url: str, redis: Redis
) -> Iterator[tuple[TestClient, Portal, TestClient, Portal]]:
    root = scorecard_repo(tmp_path / "repo")
    with ExitStack() as stack:
        client_a, portal_a = replica(root, "a", postgres_url, redis)
        stack.enter_context(client_a)  # a starts first: it takes the leases
        client_b, portal_b = replica(root, "b", postgres_url, redis)
        stack.enter_context(client_b)
        for portal in (portal_a, portal_b):
            settle(portal)
        yield client_a, portal_a, client_b, portal_b


def runs(portal: Portal) -> list[tuple[str, str]]:
    with portal.db.session() as session:
        rows = session.scalars(select(ScorecardRun).order_by(ScorecardRun.id))
        return [(row.trigger, row.reason) for row in rows]


def idle(portal: Portal) -> None:
    settle(portal)
    assert portal.search_index is not None
    assert portal.search_index.wait_idle(120), "the search index did not sync"


def test_a_registration_on_one_replica_is_visible_on_the_other(
    pair: tuple[TestClient, Portal, TestClient, Portal],
) -> None:
    client_a, portal_a, client_b, portal_b = pair
    assert runs(portal_a) == [("startup", "the portal started")]  # one startup run, not two
    registered = client_a.post(
        "/api/v1/entities", json={"descriptor": component("payments", description="Card money")}
    )
    assert registered.status_code == 201, registered.text
    assert client_b.get("/api/v1/entities/component/default/payments").status_code == 404

    assert portal_b.replicas.poll()  # b's next look at the change counter
    assert not portal_a.replicas.poll()  # a made the change: it has it already
    entity = client_b.get("/api/v1/entities/component/default/payments")
    assert entity.status_code == 200
    assert entity.json()["source"]["registered_by"] == "dev@localhost"
    assert "/catalog/component/default/payments" in client_b.get("/catalog").text

    idle(portal_a)
    idle(portal_b)
    # Both evaluated the scorecards (each shows them); only a, holding the lease, wrote.
    assert portal_b.scorecards.current is not None
    assert runs(portal_a) == [
        ("startup", "the portal started"),
        ("registration", "registered by dev@localhost"),
    ]
    # One search index in PostgreSQL, written by a, found through b.
    found = client_b.get("/api/v1/search", params={"q": "payments"}).json()
    assert any(hit["url"].endswith("/component/default/payments") for hit in found["hits"]), found


def test_a_token_minted_on_one_replica_works_on_the_other_and_is_audited_once(
    pair: tuple[TestClient, Portal, TestClient, Portal],
) -> None:
    client_a, _portal_a, client_b, portal_b = pair
    token = Admin(client_a).create(name="ci")
    answer = client_b.get("/api/v1/entities", headers=bearer(token))
    assert answer.status_code == 200
    with portal_b.db.session() as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions.count("token.create") == 1 and actions.count("token.use") == 1


def test_rate_limits_count_across_replicas(
    pair: tuple[TestClient, Portal, TestClient, Portal],
) -> None:
    client_a, _portal_a, client_b, _portal_b = pair
    answers = [
        (client_a if n % 2 else client_b).get("/login").status_code
        for n in range(LOGINS_PER_MINUTE)
    ]
    assert set(answers) == {303}
    assert client_a.get("/login").status_code == 429
    assert client_b.get("/login").status_code == 429
    for attempt in range(FAILURES_PER_MINUTE):
        client = client_a if attempt % 2 else client_b
        guess = f"qp_{attempt:016x}_" + "C" * 43
        assert client.get("/api/v1/entities", headers=bearer(guess)).status_code == 401
    refused = client_a.get("/api/v1/entities", headers=bearer("qp_" + "0" * 16 + "_" + "C" * 43))
    assert refused.status_code == 429
    metrics = client_b.get("/metrics").text
    assert "portal_redis_available 1.0" in metrics
    assert "portal_redis_failures_total 0.0" in metrics


def test_the_scorecard_history_moves_to_the_other_replica_when_its_writer_stops(
    pair: tuple[TestClient, Portal, TestClient, Portal],
) -> None:
    client_a, portal_a, client_b, portal_b = pair
    assert portal_a.leases.holders() == ["probes", "scorecards"]
    assert portal_b.leases.holders() == []
    client_a.__exit__(None, None, None)  # a stops, and with it its leases
    portal_b.leases.check()
    assert portal_b.leases.holders() == ["probes", "scorecards"]
    settle(portal_b)  # taking the history over, b records where things stand
    assert runs(portal_b)[-1] == ("startup", "this replica now records the history")
    registered = client_b.post("/api/v1/entities", json={"descriptor": component("billing")})
    assert registered.status_code == 201, registered.text
    settle(portal_b)
    assert runs(portal_b)[-1] == ("registration", "registered by dev@localhost")
