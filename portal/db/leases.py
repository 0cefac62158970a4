"""Leases on background work, so that replicas sharing one PostgreSQL database do it once.

A lease is a PostgreSQL session-level advisory lock, held on a connection of its
own that each replica keeps open. Why PostgreSQL rather than Redis (SET NX PX):

- the database is already what every replica must reach to do anything (the work
  under a lease writes to it), and Redis is optional; a lease in PostgreSQL adds
  no service to the deployment and no second thing that can fail;
- the lock lives exactly as long as its holder's session: a replica that dies
  (killed, crashed, its pod deleted) loses it the moment its connection closes,
  without waiting out a time-to-live; one cut off from the database loses it when
  the server's TCP keepalives (set on the session, about twice
  PORTAL_LEASE_SECONDS) give up on it, and notices itself at its next check;
- there is no expiry to renew, so a holder that is slow (a long build, a pause)
  does not lose its lease in the middle of the work, which a TTL that ran out
  would do, letting a second replica start the same work.

Leases need a real session: behind PgBouncer in transaction pooling mode, point the
portal at PostgreSQL directly (or at a session-mode pool).

SQLite is one process's database: there, every lease is this process's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, NullPool, create_engine, text

from portal.db.database import CONNECT_TIMEOUT, UNREACHABLE, Database, advisory_key
from portal.worker import Periodic

__all__ = ["Leases"]

log = logging.getLogger(__name__)


class Leases:
    """The leases this replica wants, and those it holds now.

    ``want(name)`` asks for a lease held as long as the replica can keep it (a
    leadership: scheduled probes, scorecard history); ``check()`` (every
    ``check_seconds`` in a thread of its own, or by hand in tests) verifies the
    held ones and tries for the others. ``exclusive(name)`` holds a lease for the
    length of one piece of work (a site build), waiting for it if another replica
    has it.
    """

    def __init__(self, db: Database, check_seconds: float = 15.0) -> None:
        self.db = db
        self.shared = not db.sqlite
        self.check_seconds = check_seconds
        self._wanted: dict[str, Callable[[], None] | None] = {}
        self._held: set[str] = set()
        self._connection: Connection | None = None
        self._pid: int | None = None  # the server process of the session holding the locks
        self._lock = threading.RLock()  # one statement at a time on the connection
        self._state = threading.Lock()  # _wanted and _held: never held across a statement
        self._checker = Periodic(
            "portal-leases", check_seconds, self.check, "checking the leases failed"
        )
        self._engine = (
            create_engine(
                db.url,
                poolclass=NullPool,
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT,
                    # This side gives up on a silent server just as the server gives up on
                    # a silent replica (see _connect): a check cannot hang on a dead network
                    # while this replica still believes it holds its leases.
                    "keepalives": 1,
                    "keepalives_idle": _keepalive(check_seconds)[0],
                    "keepalives_interval": _keepalive(check_seconds)[1],
                    "keepalives_count": 3,
                    "tcp_user_timeout": int(2 * check_seconds * 1000),
                },
                isolation_level="AUTOCOMMIT",
            )
            if self.shared
            else None
        )

    # -- what the work asks ----------------------------------------------------

    def want(self, name: str, on_gained: Callable[[], None] | None = None) -> None:
        """Hold ``name`` whenever possible; ``on_gained`` runs (in the checking thread) each
        time this replica takes it over from another, not when it takes it at ``start()``."""
        with self._state:
            self._wanted[name] = on_gained
            if not self.shared:
                self._held.add(name)

    def held(self, name: str) -> bool:
        """Whether this replica holds ``name`` now (as of the last check: cheap). With
        SQLite, always: the process is the only one."""
        if not self.shared:
            return True
        with self._state:
            return name in self._held

    def holders(self) -> list[str]:
        with self._state:
            return sorted(self._held)

    @contextmanager
    def exclusive(
        self, name: str, stopping: Callable[[], bool], poll: float = 1.0
    ) -> Iterator[bool]:
        """Hold ``name`` for the block, waiting while another replica has it; yields False
        (without it) if ``stopping()`` turns true while waiting."""
        if not self.shared:
            yield True
            return
        while True:
            if stopping():
                yield False
                return
            try:
                if self._try(name):
                    break
            except UNREACHABLE as exc:
                log.warning("lease %s: database unreachable (%s)", name, type(exc).__name__)
                self._drop_connection()
            time.sleep(poll)
        try:
            yield True
        finally:
            self._release(name)

    def free(self, name: str) -> bool:
        """Whether nobody holds ``name`` now (taken and given back at once to find out)."""
        if not self.shared:
            return True
        try:
            if not self._try(name):
                return False
        except UNREACHABLE:
            self._drop_connection()
            return False
        self._release(name)
        return True

    # -- keeping them --------------------------------------------------------------

    def check(self, *, quietly: bool = False) -> None:
        """Verify the held leases (a lost connection loses them all) and try the others;
        ``quietly``: without running the ``on_gained`` of those taken."""
        if not self.shared:
            return
        gained: list[Callable[[], None]] = []
        with self._lock:
            try:
                with self._state:
                    held, wanted = set(self._held), dict(self._wanted)
                if held and not self._alive():
                    self._lose_all("its database session ended")
                    held = set()
                for name, on_gained in wanted.items():
                    if name not in held and self._try(name):
                        with self._state:
                            self._held.add(name)
                        log.info("lease %s: this replica holds it now", name)
                        if on_gained is not None and not quietly:
                            gained.append(on_gained)
            except UNREACHABLE as exc:
                self._lose_all(f"the database is unreachable ({type(exc).__name__})")
        for callback in gained:
            try:
                callback()
            except Exception:  # the lease is held; what follows is the work's business
                log.exception("after taking a lease")

    def start(self) -> None:
        if not self.shared or self._checker.running:
            return
        self.check(quietly=True)  # what starts with the process needs no taking over
        self._checker.start()

    def stop(self) -> None:
        """Give every lease back (the connection closes), so another replica takes over now."""
        self._checker.stop(timeout=self.check_seconds + 10)
        with self._lock:
            with self._state:
                self._held.clear()
            if self._connection is not None:
                # Given back before this returns (closing the connection alone lets the
                # server end the session a moment later): the next replica to look has them.
                # An error means the session is gone already, and its locks with it.
                with contextlib.suppress(*UNREACHABLE):
                    self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
            self._drop_connection()
        if self._engine is not None:
            self._engine.dispose()

    # -- the connection --------------------------------------------------------------

    def _connect(self) -> Connection:
        if self._connection is None:
            assert self._engine is not None  # shared
            connection = self._engine.connect()
            # The server gives up on a silent replica (its machine gone, its network cut)
            # after about twice the check interval, and so ends its session and its locks.
            idle, interval = _keepalive(self.check_seconds)
            for setting, value in (
                ("tcp_keepalives_idle", idle),
                ("tcp_keepalives_interval", interval),
                ("tcp_keepalives_count", 3),
            ):
                connection.execute(text(f"SET {setting} = {int(value)}"))
            self._pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            self._connection = connection
        return self._connection

    def _try(self, name: str) -> bool:
        with self._lock:
            connection = self._connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(f"lease:{name}")}
            ).scalar()
            return bool(got)

    def _release(self, name: str) -> None:
        with self._lock:
            if self._connection is None:
                return  # the session ended: so did its locks
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(f"lease:{name}")}
                )
            except UNREACHABLE:
                self._drop_connection()

    def _alive(self) -> bool:
        """Whether the session holding the locks is still the one that took them (a
        connection that was silently replaced holds none of them)."""
        if self._connection is None:
            return False
        pid = self._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        return pid == self._pid

    def _lose_all(self, why: str) -> None:
        with self._state:
            lost, self._held = sorted(self._held), set()
        for name in lost:
            log.warning("lease %s lost: %s", name, why)
        self._drop_connection()

    def _drop_connection(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: closing is all that is left
                log.debug("closing the lease connection failed", exc_info=True)


def _keepalive(check_seconds: float) -> tuple[int, int]:
    """TCP keepalive idle time and probe interval, in whole seconds: a silent peer is given
    up after about twice ``check_seconds`` (idle, then three probes)."""
    idle = max(1, int(check_seconds))
    return idle, max(1, idle // 3)
