"""/healthz says the process lives; /readyz says the portal can serve: database, sites, search.

(The database going away is in test_degradation.py, with a real PostgreSQL server.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from portal.auth.sessions import COOKIE
from tests.auth.test_access import SSO
from tests.ops.conftest import CapturedLog, settings_in
from tests.web.conftest import client_for

READY = "ready\ndatabase: ok\nsites: ok\nsearch: ok\n"


def test_ready_when_the_database_answers_every_site_is_built_and_search_is_open(
    built_repo: Path, tmp_path: Path
) -> None:
    client, _portal = client_for(settings_in(built_repo, tmp_path / "data"))
    with client:
        assert client.get("/healthz").text == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.text == READY
        assert ready.headers["cache-control"] == "no-store"


def test_not_ready_while_an_audience_site_is_missing_and_only_the_log_says_which(
    built_repo: Path, tmp_path: Path, json_log: CapturedLog
) -> None:
    sites = tmp_path / "site"
    for audience in ("staff", "builders"):  # partners is not built
        shutil.copytree(built_repo / "site" / audience, sites / audience)
    settings = settings_in(built_repo, tmp_path / "data", site_dir=sites)
    client, _portal = client_for(settings)
    with client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.text == "not ready\ndatabase: ok\nsites: failing\nsearch: ok\n"
    # No internals in the public answer: not the audience, not a path.
    assert "partners" not in answer.text and str(tmp_path) not in answer.text
    warnings = [e["message"] for e in json_log.events() if e["level"] == "warning"]
    assert "readiness: sites not built: partners" in warnings


def test_not_ready_once_the_search_index_is_closed(built_repo: Path, tmp_path: Path) -> None:
    client, portal = client_for(settings_in(built_repo, tmp_path / "data"))
    with client:
        assert client.get("/readyz").status_code == 200
        portal.stop()  # what shutting down does first: the index closes, requests still come
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.text == "not ready\ndatabase: ok\nsites: ok\nsearch: failing\n"
        assert client.get("/healthz").status_code == 200  # alive all the same


def test_probes_answer_whatever_credential_rides_along(built_repo: Path, tmp_path: Path) -> None:
    """With single sign-on, a stale cookie or a bad token does not turn a probe into a 401
    (nor cost a database read): the probes never look at credentials."""
    settings = settings_in(built_repo, tmp_path / "data", **SSO)
    client, _portal = client_for(settings)
    with client:
        junk = {"Authorization": "Bearer qp_0123_not-a-token", "Cookie": f"{COOKIE}=stale"}
        assert client.get("/api/v1/entities", headers=junk).status_code == 401
        assert client.get("/healthz", headers=junk).status_code == 200
        assert client.get("/readyz", headers=junk).text == READY
