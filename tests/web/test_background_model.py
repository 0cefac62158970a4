"""The background workers (search index, scorecards) share one model load per change."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from portal.model import Model
from tests.sites.conftest import small_repo
from tests.web.conftest import client_for, settings_for


def test_one_load_per_change_shared_while_held_and_a_change_loads_anew(tmp_path: Path) -> None:
    client, portal = client_for(settings_for(small_repo(tmp_path / "repo")))
    with client:
        assert portal.search_index is not None and portal.search_index.wait_idle(60)
        assert portal.scorecards.wait_idle(60)

        first = portal.background_model()
        assert portal.background_model() is first  # the same change: not loaded again

        # Two workers asking at once get one load between them.
        got: list[Model] = []

        def ask() -> None:
            got.append(portal.background_model())

        threads = [threading.Thread(target=ask) for _ in range(2)]
        portal._reindex("a test's change")  # what every change of the sources goes through
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert got[0] is got[1] and got[0] is not first
        assert portal.search_index.wait_idle(60)

        # Nobody holds it any more: it is not kept alive for later, a new one is loaded.
        kept = id(got[0])
        got.clear()
        del first
        gc.collect()
        again = portal.background_model()
        assert isinstance(again, Model) and len(again.catalog) > 0
        assert portal._shared_model is not None and portal._shared_model[1]() is again
        del again
        gc.collect()
        assert portal._shared_model[1]() is None, f"model {kept} kept alive"
