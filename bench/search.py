"""Search engines on a 3,000-page corpus: full index, one-page update, queries in-process and HTTP.

For each engine, in one run: (a) the full index, ``replace_all`` over every
document of the model; (b) a one-page update after appending a paragraph to one
page: ``engine.update`` alone, the portal's own sync (changes + update), and the whole
path a rebuild takes (``load_model`` on a warm parse cache, ``documents``,
then the same); (c) p50/p95 of the queries in-process (``search``, or
``suggest`` for prefixes), after a warm-up; (d) p50/p95 of the same queries
over HTTP (``GET /api/v1/search``) from 8 keep-alive clients at once against a
real ``portal serve``, with ``GET /healthz`` of the same server interleaved as
the baseline. The queries are words, two-word phrases, entity names, filters,
typos of long words and prefixes, drawn with a seed from the corpus's own
headings and names. Goals: (a) under 15 s, (b) under 0.2 s, (c) p95 under 10 ms,
(d) p95 under 30 ms. Like (a), which indexes documents already made, (b)'s goal is
the index's own work (the engine's update, and the portal's sync around it); the
whole path, most of it the model's reload that any rebuild does, is printed
beside them without a goal. An engine or route that is not there is a "skipped" row.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import json
import os
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg

from bench.catalog_api import (
    BenchError,
    _free_port,
    _percentile,
    _stop,
    _tail,
    _wait_quiet,
    _wait_ready,
)
from bench.docs_build import _corpus, _printer
from bench.docs_corpus import INTERNAL_AUDIENCES
from portal.model import load_model
from portal.plugins import get_plugin_manager
from portal.search import (
    SearchDoc,
    SearchEngine,
    SearchIndex,
    SearchQuery,
    SectionCache,
    changes,
    documents,
)
from portal.settings import Settings

GOAL_INDEX_S = 15.0
GOAL_UPDATE_S = 0.2
GOAL_P95_S = 0.010
GOAL_HTTP_P95_S = 0.030
ENGINES = ("tantivy", "whoosh", "postgres")
SLOW_ENGINES = {"whoosh": 40}  # queries timed at most, unless --all-queries
READY_TIMEOUT_S = 600.0
SEARCH_API = "/api/v1/search"
registered_versions: dict[str, str] = {}  # database servers' versions, found on connecting
# Settings every portal serve of this run also gets (the postgres engine's URL).
SERVER_ENV: dict[str, str] = {}
READER = frozenset({*INTERNAL_AUDIENCES, "everyone"})  # an employee: every internal site
_EDIT = (
    "\n\nThis paragraph was added by the search benchmark's one-page edit: "
    "quarantined widgets reindex promptly.\n"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")
_STOP = frozenset(
    ("the", "and", "for", "with", "how", "who", "what", "when", "before", "you", "your")
) | frozenset(("from", "into", "its", "this", "that", "twice", "are"))


@dataclass(frozen=True, slots=True)
class Probe:
    """One query of the mix: ``kind`` names the row; prefixes go to ``suggest``."""

    kind: str
    text: str

    @property
    def suggest(self) -> bool:
        return self.kind == "prefix"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__)
    parser.add_argument("--pages", type=int, default=3000, help="docs pages to generate")
    parser.add_argument("--entities", type=int, default=10_000, help="catalog entities")
    parser.add_argument("--openapi", type=int, default=20, help="extra OpenAPI documents")
    parser.add_argument("--queries", type=int, default=200, help="queries in the mix")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated (default: all three)"
    )
    parser.add_argument(
        "--all-queries",
        action="store_true",
        help=f"time every query on slow engines too (else capped: {SLOW_ENGINES})",
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="a database for the postgres engine (default: a throwaway cluster, if initdb is here)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus and the queries")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate into DIR once, and reuse it after"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.queries < 1 or args.clients < 1:
        parser.error("--queries and --clients must be at least 1")
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine {', '.join(unknown)}; expected some of {', '.join(ENGINES)}")
    args.engine_names = engines
    if args.keep is not None:
        return _run(args, args.keep.resolve())
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, work: Path) -> int:
    say = _printer(args.json)
    root = work / "repo"
    try:
        corpus = _corpus(root, args, say)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = Settings(root=root)
    started = time.perf_counter()
    model = load_model(settings)
    load_s = time.perf_counter() - started
    if model.report.errors:
        for problem in model.report.sorted()[:20]:
            print(problem.format(), file=sys.stderr)
        print("error: the generated repository must load with no errors", file=sys.stderr)
        return 1
    started = time.perf_counter()
    sections = SectionCache()  # as the portal keeps one, for the updates below
    docs = documents(model, sections)
    documents_s = time.perf_counter() - started
    del model
    counts = {t: sum(1 for d in docs if d.type == t) for t in ("page", "entity", "operation")}
    say(
        f"model: load_model {load_s:.1f} s, documents {documents_s:.2f} s: {len(docs):,} "
        f"documents ({counts['page']:,} page sections, {counts['entity']:,} entities, "
        f"{counts['operation']:,} operations)"
    )
    probes = make_queries(docs, args.queries, args.seed)
    load_before = os.getloadavg()
    pm = get_plugin_manager(root)
    registered: dict[str, Callable[[Path | None], SearchEngine]] = {}
    for found in pm.hook.portal_search_engines(settings=Settings(root=root)):
        registered.update(found)
    offered = set(registered)
    results = []
    with ExitStack() as stack:
        if "postgres" in args.engine_names:
            problem = _add_postgres(registered, args.postgres_url, stack, say)
            if problem:
                registered.pop("postgres", None)
                offered.discard("postgres")
                args.postgres_problem = problem
            else:
                # The portal offers postgres when its settings name a PostgreSQL URL.
                url = SERVER_ENV["PORTAL_SEARCH_DATABASE_URL"]
                settings = Settings(root=root, search_database_url=url)
                for found in pm.hook.portal_search_engines(settings=settings):
                    if "postgres" in found:
                        registered["postgres"] = found["postgres"]
                        offered.add("postgres")
        for name in args.engine_names:
            say(f"{name}: ...")
            results.append(
                _engine_run(
                    name, registered, offered, args, root, work, docs, sections, probes, corpus, say
                )
            )
    figures = {
        "corpus": {k: v for k, v in corpus.items() if k != "partner_pages"},
        "documents": len(docs),
        "document_types": counts,
        "load_model_cold_s": load_s,
        "documents_s": documents_s,
        "queries": {kind: sum(1 for p in probes if p.kind == kind) for kind in _kinds(probes)},
        "query_sample": [p.text for p in probes[:12]],
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "engines": results,
    }
    print(json.dumps(figures, indent=2) if args.json else _report(figures))
    return 0


# -- the queries --------------------------------------------------------------------


def make_queries(docs: Sequence[SearchDoc], count: int, seed: int) -> list[Probe]:
    """A seeded mix of what readers type, every word taken from the corpus's headings and names."""
    rng = random.Random(seed)
    headings = sorted({d.heading for d in docs if d.type == "page"} | {d.title for d in docs})
    words = sorted({w.lower() for h in headings for w in _WORD.findall(h)} - _STOP)
    long_words = [w for w in words if len(w) >= 5 and w.isalpha()]
    pairs = sorted(
        {
            f"{a.lower()} {b.lower()}"
            for h in headings
            for a, b in zip(_WORD.findall(h), _WORD.findall(h)[1:], strict=False)
            if a.lower() not in _STOP and b.lower() not in _STOP
        }
    )
    names = sorted({d.heading for d in docs if d.type == "entity"})
    by_kind: dict[str, list[SearchDoc]] = {}
    for doc in docs:
        by_kind.setdefault(doc.kind, []).append(doc)
    filters = [k for k in ("api", "component", "system", "page", "operation") if k in by_kind]

    def word() -> str:
        return rng.choice(words)

    def filtered() -> str:
        kind = rng.choice(filters)
        doc = rng.choice(by_kind[kind])
        found = [w for w in _WORD.findall(f"{doc.heading} {doc.title}") if w.lower() not in _STOP]
        key = rng.choice(("kind", "kind", "type" if doc.type == "page" else "kind", "owner"))
        value = {"kind": kind, "type": doc.type, "owner": doc.owner.rpartition("/")[2]}[key]
        return f"{(rng.choice(found) if found else word()).lower()} {key}:{value or kind}"

    def typo() -> str:
        w = rng.choice(long_words)
        at = rng.randrange(1, len(w) - 1)
        edit = rng.choice(("swap", "drop", "change"))
        if edit == "swap":
            return w[:at] + w[at + 1] + w[at] + w[at + 2 :]
        if edit == "drop":
            return w[:at] + w[at + 1 :]
        return w[:at] + rng.choice("aeioust".replace(w[at], "")) + w[at + 1 :]

    def prefix() -> str:
        base = rng.choice(pairs) if rng.random() < 0.3 else rng.choice(words)
        return base[: max(2, len(base) - rng.randint(1, 4))]

    makers: list[tuple[str, float, Callable[[], str]]] = [
        ("word", 0.25, word),
        ("two words", 0.15, lambda: rng.choice(pairs)),
        ("phrase", 0.05, lambda: f'"{rng.choice(pairs)}"'),
        ("entity name", 0.15, lambda: rng.choice(names)),
        ("filter", 0.15, filtered),
        ("typo", 0.10, typo),
        ("prefix", 0.15, prefix),
    ]
    probes = []
    for kind, share, make in makers:
        probes += [Probe(kind, make()) for _ in range(max(1, round(count * share)))]
    rng.shuffle(probes)
    return probes[:count]


def _kinds(probes: Sequence[Probe]) -> list[str]:
    return list(dict.fromkeys(p.kind for p in probes))


# -- one engine ---------------------------------------------------------------------


def _engine_run(
    name: str,
    registered: dict[str, Callable[[Path | None], SearchEngine]],
    offered: set[str],
    args: argparse.Namespace,
    root: Path,
    work: Path,
    docs: list[SearchDoc],
    sections: SectionCache,
    probes: list[Probe],
    corpus: dict[str, Any],
    say: Callable[[str], None],
) -> dict[str, Any]:
    out: dict[str, Any] = {"engine": name, "version": _version(name)}
    factory = registered.get(name)
    if factory is None and getattr(args, "postgres_problem", None) and name == "postgres":
        return out | {"skipped": args.postgres_problem}
    if factory is None:
        module = Path(__file__).parent.parent / "portal" / "search" / f"{name}_engine.py"
        there = "exists" if module.exists() else "absent"
        return out | {"skipped": f"not offered by portal_search_engines ({module.name} {there})"}
    index_dir = Path(tempfile.mkdtemp(prefix=f"index-{name}-", dir=work))
    try:
        engine = factory(index_dir)
        started = time.perf_counter()
        engine.replace_all(docs)
        out["index_s"] = time.perf_counter() - started
    except Exception as exc:  # an engine that cannot run here is reported, not fatal
        return out | {"skipped": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    say(f"{name}: full index {out['index_s']:.1f} s")
    out["update"] = _update(engine, name, root, corpus["edit_page"], docs, sections)
    say(f"{name}: one-page update {out['update']['update_s'] * 1000:.1f} ms")
    cap = None if args.all_queries else SLOW_ENGINES.get(name)
    timed = probes[:cap] if cap else probes
    if cap and cap < len(probes):
        out["note"] = f"slow engine: {len(timed)} of {len(probes)} queries timed (--all-queries)"
        say(f"{name}: {out['note']}")
    out["in_process"] = _in_process(engine, timed)
    say(f"{name}: in-process p95 {out['in_process']['all']['p95_s'] * 1000:.1f} ms")
    if name not in offered:
        out["http"] = {
            "skipped": f"portal_search_engines does not offer {name}: portal serve cannot use it"
        }
        return out
    probe = next(p.text for p in probes if not p.suggest)
    expected = engine.search(SearchQuery(probe, READER)).total
    out["http"] = _http(name, root, work, timed, (probe, expected), args.clients, args.seed, say)
    return out


def _add_postgres(
    registered: dict[str, Callable[[Path | None], SearchEngine]],
    url: str | None,
    stack: ExitStack,
    say: Callable[[str], None],
) -> str | None:
    """Offer postgres on ``url`` (or a throwaway cluster) in ``registered``; or say why not."""
    try:
        from portal.search.postgres_engine import PostgresEngine
    except ImportError as exc:
        return f"portal.search.postgres_engine cannot be imported: {exc}"
    try:
        url = url or stack.enter_context(_throwaway_postgres(say))
    except BenchError as exc:
        return str(exc)
    database = url
    try:
        with psycopg.connect(_libpq(url)) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        registered_versions["postgres"] = f"PostgreSQL {row[0] if row else '?'}"
    except psycopg.Error as exc:
        return f"cannot connect to the database: {str(exc).strip()}"

    def factory(_path: Path | None) -> SearchEngine:
        return PostgresEngine(database)

    registered["postgres"] = factory
    SERVER_ENV["PORTAL_SEARCH_DATABASE_URL"] = database  # for portal serve, too
    return None


@contextmanager
def _throwaway_postgres(say: Callable[[str], None]) -> Iterator[str]:
    """A cluster of our own on a Unix socket, for this run only, and its URL."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise BenchError("no --postgres-url, and no initdb and pg_ctl on PATH to start a cluster")
    home = Path(tempfile.mkdtemp(prefix="bench-search-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(home, "postgres")
    data, port = home / "data", _free_port()
    ctl = [*as_user, pg_ctl, "-D", str(data), "-w"]
    try:
        try:
            subprocess.run(
                [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "portal", "--no-sync"],
                check=True,
                capture_output=True,
            )
            options = f"-k {home} -p {port} -c listen_addresses=''"
            log = str(home / "server.log")
            subprocess.run(
                [*ctl, "-l", log, "-o", options, "start"], check=True, capture_output=True
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise BenchError(
                f"could not start a throwaway PostgreSQL: {exc} {detail.decode()[-300:]}".strip()
            ) from None
        say(f"postgres: throwaway cluster on {home} port {port}")
        yield f"postgresql://portal@/postgres?host={home}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _libpq(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` spelling as libpq reads it."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)


def _version(name: str) -> str:
    package = {"tantivy": "tantivy", "whoosh": "Whoosh-Reloaded", "postgres": "psycopg"}[name]
    try:
        version = f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        version = f"{package} not installed"
    server = registered_versions.get(name)
    return f"{version}, {server}" if server else version


def _update(
    engine: SearchEngine,
    name: str,
    root: Path,
    page: str,
    indexed: Sequence[SearchDoc],
    sections: SectionCache,
) -> dict[str, Any]:
    """Append a paragraph to one page and re-index what changed, timing each step.

    ``sync`` is the portal's own path (portal.search.service.SearchIndex): after its
    first sync it compares with the ids and digests it keeps in memory. Reading every
    digest back from the engine, as a freshly started portal does once, is timed apart.
    Documents come as the portal makes them: the sections of unchanged pages from its
    cache; the edit names the engine, so no engine finds the edited page cached.
    """
    index = SearchIndex(engine, "bench")
    t = time.perf_counter()
    index.sync(indexed)  # a portal after its first sync: the index already holds these
    first_sync_s = time.perf_counter() - t
    edited = root / "docs" / page
    original = edited.read_bytes()
    try:
        edited.write_bytes(original + f"{_EDIT}Edited for {name}.\n".encode())
        t0 = time.perf_counter()
        model = load_model(Settings(root=root))
        t1 = time.perf_counter()
        docs = documents(model, sections)
        t2 = time.perf_counter()
        removed, changed = changes({d.id: d.digest for d in indexed}, docs)
        t3 = time.perf_counter()
        engine.update(removed, changed)  # the engine alone (then undone by the sync below)
        t4 = time.perf_counter()
        engine.update([], [d for d in indexed if d.id in {c.id for c in changed}])
        t5 = time.perf_counter()
        stats = index.sync(docs)
        t6 = time.perf_counter()
    finally:
        edited.write_bytes(original)
    return {
        "page": page,
        "removed": stats.removed,
        "changed": stats.updated,
        "load_model_s": t1 - t0,
        "documents_s": t2 - t1,
        "first_sync_s": first_sync_s,
        "changes_s": t3 - t2,
        "update_s": t4 - t3,
        "changes_and_update_s": t6 - t5,
        "whole_path_s": (t2 - t0) + (t6 - t5),
    }


def _in_process(engine: SearchEngine, probes: Sequence[Probe]) -> dict[str, Any]:
    def ask(probe: Probe) -> float:
        started = time.perf_counter()
        if probe.suggest:
            engine.suggest(probe.text, READER)
        else:
            engine.search(SearchQuery(probe.text, READER))
        return time.perf_counter() - started

    for probe in probes[: max(10, len(probes) // 10)]:  # warm-up: caches, lazy readers
        ask(probe)
    times = [(probe.kind, ask(probe)) for probe in probes]
    return _breakdown(times)


def _breakdown(times: Sequence[tuple[str, float]]) -> dict[str, Any]:
    rows = {"all": _stats([t for _, t in times])}
    for kind in dict.fromkeys(k for k, _ in times):
        rows[kind] = _stats([t for k, t in times if k == kind])
    return rows


def _stats(times: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "p50_s": statistics.median(ordered),
        "p95_s": _percentile(ordered, 95),
        "max_s": ordered[-1],
    }


# -- over HTTP ----------------------------------------------------------------------


def _http(
    name: str,
    root: Path,
    work: Path,
    probes: Sequence[Probe],
    expect: tuple[str, int],
    clients: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """``probes`` against a real ``portal serve`` of ``root``, once its index answers ``expect``."""
    state = Path(tempfile.mkdtemp(prefix=f"serve-{name}-", dir=work))
    log = state / "serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env |= {
        "PORTAL_DATA_DIR": str(state / "data"),
        "PORTAL_SEARCH_ENGINE": name,
        "PORTAL_SEARCH_INDEX_DIR": str(state / "search"),
        **SERVER_ENV,
    }
    command = [sys.executable, "-m", "portal", "serve", "--root", str(root)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-build"]
    with log.open("wb") as output:
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=output)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
            try:
                _wait_ready(server, client, log, started)
            except Exception as exc:
                return {"skipped": f"portal serve did not start: {str(exc).splitlines()[0]}"}
            ready = _search_ready(server, client, expect, started)
            if isinstance(ready, str):
                return {"skipped": ready}
            quiet = _wait_quiet(server.pid)
            say(
                f"{name}: serving search after {ready:.1f} s, its start-up work done after "
                f"{quiet:.1f} s more; {clients} clients ..."
            )
            try:
                figures = _concurrent(port, probes, clients, seed)
            except BenchError as exc:
                return {"skipped": str(exc)}
        if server.poll() is not None:
            return {"skipped": f"portal serve exited during the run:\n{_tail(log)}"}
        return figures | {"ready_s": ready, "quiet_after_s": quiet}
    finally:
        _stop(server)


def _search_ready(
    server: subprocess.Popen[bytes], client: httpx.Client, expect: tuple[str, int], t0: float
) -> float | str:
    """Seconds until the server's index finds what the engine in-process found, or why not.

    The route answers from the start, with an empty index until the server's first
    sync commits: the same total as in-process means that sync is done.
    """
    text, total = expect
    answer: Any = None
    while time.perf_counter() < t0 + READY_TIMEOUT_S:
        if server.poll() is not None:
            return f"portal serve exited with {server.returncode}"
        response = client.get(SEARCH_API, params={"q": text, "audience": sorted(READER)})
        if response.status_code == 404:
            return f"GET {SEARCH_API} answered 404: the route is not in this portal"
        if response.status_code == 200:
            answer = response.json().get("total")
            if answer == total:
                return time.perf_counter() - t0
        elif response.status_code != 503:  # 503: the index is not open yet
            return f"GET {SEARCH_API} answered {response.status_code}: {response.text[:200]}"
        time.sleep(0.2)
    return (
        f"GET {SEARCH_API}?q={text} still found {answer} after {READY_TIMEOUT_S:.0f} s, "
        f"not the {total} found in-process"
    )


def _concurrent(port: int, probes: Sequence[Probe], clients: int, seed: int) -> dict[str, Any]:
    """Every probe once and as many /healthz, shuffled together, from ``clients`` threads."""
    work: queue.Queue[tuple[str, str | None]] = queue.Queue()
    jobs: list[tuple[str, str | None]] = [(p.kind, p.text) for p in probes]
    jobs += [("healthz", None)] * len(probes)
    random.Random(seed).shuffle(jobs)
    warmup = [(p.kind, p.text) for p in probes[: max(10, len(probes) // 10)]]
    times: list[tuple[str, float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client_thread() -> None:
        # http.client, not httpx: the clients share this process's GIL with each other,
        # and the less each request costs here, the less the figures measure the client.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60.0)
        try:
            for kind, text in warmup[: max(1, len(warmup) // clients)]:  # and connects
                _get(connection, _target(kind, text))
            start.wait(timeout=120)
            while True:
                try:
                    kind, text = work.get_nowait()
                except queue.Empty:
                    return
                target = _target(kind, text)
                began = time.perf_counter()
                status = _get(connection, target)
                took = time.perf_counter() - began
                with lock:
                    times.append((kind, took))
                    if status != 200:
                        failures.append(f"{status} {target}")
        except Exception as exc:  # counted and shown, and the other clients go on
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")
            start.abort()
        finally:
            connection.close()

    for job in jobs:
        work.put(job)
    threads = [threading.Thread(target=client_thread) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    searches = [(k, t) for k, t in times if k != "healthz"]
    if not searches:
        raise BenchError(f"no search request was answered: {failures[:3]}")
    return {
        "clients": clients,
        "search": _breakdown(searches),
        "healthz": _stats([t for k, t in times if k == "healthz"]),
        "failures": len(failures),
        "failure_sample": failures[:3],
    }


def _target(kind: str, text: str | None) -> str:
    """The path and query of one probe: the audiences in-process searches, named."""
    if text is None:
        return "/healthz"
    path = f"{SEARCH_API}/suggest" if kind == "prefix" else SEARCH_API
    return f"{path}?{urlencode({'q': text, 'audience': sorted(READER)}, doseq=True)}"


def _get(connection: http.client.HTTPConnection, target: str) -> int:
    """One GET over a kept-alive connection; the whole answer is read."""
    connection.request("GET", target)
    response = connection.getresponse()
    response.read()
    return response.status


# -- the report ---------------------------------------------------------------------


def _verdict(value: float, goal: float) -> str:
    return "met" if value < goal else "NOT met"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _report(figures: dict[str, Any]) -> str:
    corpus = figures["corpus"]
    types = figures["document_types"]
    lines = [
        f"corpus: {corpus['pages']:,} pages, {corpus['entities']:,} entities "
        f"({corpus['operations']:,} operations): {figures['documents']:,} documents = "
        f"{types['page']:,} page sections + {types['entity']:,} entities + "
        f"{types['operation']:,} operations",
        f"queries: {sum(figures['queries'].values())} = "
        + ", ".join(f"{n} {kind}" for kind, n in figures["queries"].items())
        + f" (prefixes to suggest, {SEARCH_API}/suggest over HTTP)",
        "e.g. " + " | ".join(figures["query_sample"]),
    ]
    for run in figures["engines"]:
        lines += ["", f"== {run['engine']} ({run['version']})"]
        if "skipped" in run:
            lines.append(f"skipped: {run['skipped']}")
            continue
        if "note" in run:
            lines.append(f"note: {run['note']}")
        upd = run["update"]
        lines += [
            _line("full index (replace_all)", run["index_s"], GOAL_INDEX_S, seconds=True),
            f"one-page update of {upd['page']}: {upd['changed']} changed, {upd['removed']} removed",
            _line("  engine.update alone", upd["update_s"], GOAL_UPDATE_S),
            _line(
                "  the portal's sync (changes + update)", upd["changes_and_update_s"], GOAL_UPDATE_S
            )
            + f"  (changes {_ms(upd['changes_s'])}; a fresh portal's first sync, which "
            f"reads every digest back: {_ms(upd['first_sync_s'])})",
            f"  {'whole path from the edit':<28} {_ms(upd['whole_path_s']):>10}  "
            f"(no goal of its own: load_model {_ms(upd['load_model_s'])} warm cache, "
            f"documents {_ms(upd['documents_s'])} with unchanged pages' sections from the "
            "cache, then the sync)",
        ]
        lines += _query_lines("in-process", run["in_process"], GOAL_P95_S)
        http = run["http"]
        if "skipped" in http:
            lines.append(f"over HTTP: skipped: {http['skipped']}")
            continue
        lines += _query_lines(
            f"over HTTP, {http['clients']} clients (ready after {http['ready_s']:.1f} s, "
            f"start-up work over {http.get('quiet_after_s', 0.0):.1f} s later)",
            http["search"],
            GOAL_HTTP_P95_S,
        )
        base = http["healthz"]
        lines.append(
            f"  GET /healthz baseline (same run)  n={base['n']}  p50 {_ms(base['p50_s'])}  "
            f"p95 {_ms(base['p95_s'])}"
        )
        if http["failures"]:
            lines.append(f"  FAILED requests: {http['failures']}, e.g. {http['failure_sample']}")
    before = " ".join(f"{x:.2f}" for x in figures["load_average_before"])
    after = " ".join(f"{x:.2f}" for x in figures["load_average_after"])
    lines += ["", f"machine: {figures['cpus']} CPUs, load average {before} before, {after} after"]
    return "\n".join(lines)


def _line(label: str, value: float, goal: float, seconds: bool = False) -> str:
    shown, limit = (f"{value:.2f} s", f"{goal:.0f} s") if seconds else (_ms(value), _ms(goal))
    return f"{label:<30} {shown:>10}  goal < {limit}: {_verdict(value, goal)}"


def _query_lines(title: str, rows: dict[str, Any], goal: float) -> list[str]:
    total = rows["all"]
    lines = [
        f"queries {title}: n={total['n']}  p50 {_ms(total['p50_s'])}  p95 {_ms(total['p95_s'])}"
        f"  goal p95 < {_ms(goal)}: {_verdict(total['p95_s'], goal)}  max {_ms(total['max_s'])}"
    ]
    for kind, stats in rows.items():
        if kind != "all":
            lines.append(
                f"  {kind:<14} n={stats['n']:<3} p50 {_ms(stats['p50_s']):>9}  "
                f"p95 {_ms(stats['p95_s']):>9}  max {_ms(stats['max_s']):>9}"
            )
    return lines
