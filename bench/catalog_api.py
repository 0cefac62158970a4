"""Latency of ``GET /api/v1/entities`` at 1,000 / 10,000 / 50,000 entities next to ``GET /healthz``.

For each size, a generated catalog is served by a real ``portal serve`` process on
loopback, and one keep-alive client asks it, one request at a time, for a mix of
pages: unfiltered, filtered by kind, kind and lifecycle, owner, tag, free text, a
deep page reached through ``next_cursor``, and a sort by owner. ``GET /healthz`` of
the same server is the baseline: it is asked as often, interleaved with the rest,
so the server, the client and the machine's load are the same for both. Filter
values and words are read from the served catalog (its facets and a sample page).

Each scenario has a few queries (different values). Each query is asked once
first, with the index's memos cold, and shown apart ("first"); then each timed
round asks every scenario's next query and ``/healthz`` once, in a new random
order. The slowest request of all is named, as a lone pause (the cyclic GC's
first full pass over a big catalog) hides from the percentiles. Goal, set for
50,000 entities: every scenario's p95 within 5x the ``/healthz`` p95.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.catalog_load import MIB, PATTERN, _corpus, _printer

GOAL = 5.0
GOAL_ENTITIES = 50_000
SIZES = (1_000, 10_000, 50_000)
VARIANTS = 8  # queries per scenario, cycled through
DEPTH = 10  # pages followed through next_cursor for the deep page
STARTUP_TIMEOUT_S = 300.0
API = "/api/v1/entities"
_WORD = re.compile(r"[^\W\d_]{4,}")

Params = dict[str, str | list[str]]


class BenchError(Exception):
    """The server did not start or did not answer as it should."""


@dataclass(slots=True)
class Scenario:
    name: str
    queries: list[Params]
    in_goal: bool = True
    path: str = API
    first: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=SIZES,
        help="catalog sizes, comma-separated (default 1000,10000,50000)",
    )
    parser.add_argument(
        "--requests", type=int, default=400, help="timed requests per scenario and of /healthz"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the corpora and the order of requests"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate into DIR/<size> once, and reuse it after"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")

    say = _printer(args.json)
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        work = args.keep.resolve() if args.keep is not None else Path(tmp)
        for entities in args.sizes:
            root = work / str(entities)
            try:
                corpus = _corpus(root, entities, args.seed, say)
                runs.append(_measure(root, corpus, Path(tmp), args.requests, args.seed, say))
            except (FileExistsError, ValueError) as exc:  # a --keep DIR of another corpus
                print(f"error: {exc}", file=sys.stderr)
                return 2
            except BenchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
    figures = _figures(runs, args.requests, load_before, os.getloadavg())
    print(json.dumps(figures, indent=2) if args.json else _report(figures))
    return 0


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers, e.g. 1000,10000") from None
    if not sizes or min(sizes) < 3:
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be at least 3 entities")
    return sizes


# -- one size -------------------------------------------------------------------


def _measure(
    root: Path,
    corpus: dict[str, Any],
    tmp: Path,
    requests: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    entities = corpus["entities"]
    # A fresh database each run, even with --keep.
    state = Path(tempfile.mkdtemp(prefix=f"server-{entities}-", dir=tmp))
    log = state / "serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env |= {"PORTAL_DATA_DIR": str(state / "data"), "PORTAL_CATALOG_PATHS": json.dumps([PATTERN])}
    command = [sys.executable, "-m", "portal", "serve", "--root", str(root)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-build"]
    say(f"serve: {entities:,} entities on 127.0.0.1:{port} ...")
    with log.open("wb") as out:
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=out)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
            startup = _wait_ready(server, client, log, started)
            rss_loaded = _proc_status(server.pid, "VmRSS")
            say(f"serve: answering after {startup:.1f} s, {rss_loaded / MIB:.0f} MiB resident")
            figures = _ask(client, server, entities, requests, seed, say)
            figures |= {
                "files": corpus["files"],
                "startup_s": startup,
                "rss_after_load_bytes": rss_loaded,
                "rss_end_bytes": _proc_status(server.pid, "VmRSS"),
                "rss_peak_bytes": _proc_status(server.pid, "VmHWM"),
            }
            return figures
    finally:
        _stop(server)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(
    server: subprocess.Popen[bytes], client: httpx.Client, log: Path, t0: float
) -> float:
    deadline = t0 + STARTUP_TIMEOUT_S
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise BenchError(f"portal serve exited with {server.returncode}:\n{_tail(log)}")
        try:
            if client.get("/healthz").status_code == 200:  # _ask checks it is our catalog
                return time.perf_counter() - t0
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise BenchError(f"portal serve did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log)}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _proc_status(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` size (VmRSS, VmHWM) in bytes; 0 where there is no /proc."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _ask(
    client: httpx.Client,
    server: subprocess.Popen[bytes],
    entities: int,
    requests: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    asked, last = 0, 0.0
    slowest: dict[str, Any] = {"s": 0.0, "row": "", "request": 0}

    def get(params: Params, path: str = API, row: str = "finding filter values") -> httpx.Response:
        nonlocal asked, last
        asked += 1
        started = time.perf_counter()
        response = client.get(path, params=params)
        last = time.perf_counter() - started
        if response.status_code != 200:
            raise BenchError(f"GET {response.url} answered {response.status_code}: {response.text}")
        if last > slowest["s"]:  # a lone pause shows here, e.g. the cyclic GC's full pass
            slowest.update(s=last, row=row, request=asked)
        return response

    first = get({"limit": "1"}).json()
    if first["total"] != entities:  # another server on our port would not hold this catalog
        raise BenchError(f"the server lists {first['total']} entities, not {entities}")
    scenarios = _scenarios(first["facets"], get)
    healthz = Scenario("GET /healthz (baseline)", [{}], path="/healthz")
    rounds = [healthz, *scenarios]

    def ask(scenario: Scenario, query: Params) -> float:
        response = get(query, scenario.path, scenario.name)
        scenario.sizes.append(len(response.content))
        if scenario.path == API:
            scenario.totals.append(response.json()["total"])
        return last

    for scenario in rounds:  # each query once, with cold memos: shown apart
        scenario.first = [ask(scenario, query) for query in scenario.queries]
    say(f"ask: {requests:,} timed requests of each of {len(rounds)} rows, interleaved ...")
    shuffle = random.Random(seed).shuffle
    for n in range(requests):
        # A new order each round: a row's time must not depend on which row went before
        # (after a 300 KiB answer, the next request is slower).
        order = rounds.copy()
        shuffle(order)
        for scenario in order:
            scenario.times.append(ask(scenario, scenario.queries[n % len(scenario.queries)]))
    if server.poll() is not None:
        raise BenchError(f"portal serve exited with {server.returncode} during the run")
    return {
        "entities": entities,
        "healthz": _stats(healthz),
        "scenarios": {s.name: _stats(s) for s in scenarios},
        "slowest": slowest,
    }


def _scenarios(
    facets: dict[str, list[dict[str, Any]]], get: Callable[[Params], httpx.Response]
) -> list[Scenario]:
    """The mix of queries, with filter values and words taken from the served catalog."""

    def top(facet: str, within: dict[str, list[dict[str, Any]]] | None = None) -> list[str]:
        return [v["value"] for v in (within or facets)[facet] if v["count"]][:VARIANTS]

    kinds, owners, tags = top("kind"), top("owner"), top("tag")
    lifecycles = top("lifecycle")
    # Which kinds have a lifecycle: the kind facet's counts among entities with one.
    within = get({"lifecycle": lifecycles, "limit": "1"}).json()["facets"] if lifecycles else {}
    living = top("kind", within) if within else []
    sample = get({"limit": "200"}).json()["items"]
    pairs = [tags[i : i + 2] for i in range(0, len(tags) - 1, 2)][:2]  # tag=a&tag=b: any of
    tag_values: list[str | list[str]] = [*tags[:6], *pairs]

    def deep(params: Params) -> Params:
        """``params`` with the cursor of the page DEPTH pages on (or the last page there is)."""
        cursor = None
        for _ in range(DEPTH):
            answer = get({**params, **({"cursor": cursor} if cursor else {})}).json()
            if answer["next_cursor"] is None:
                break
            cursor = answer["next_cursor"]
        return {**params, "cursor": cursor} if cursor else params

    limit: Params = {"limit": "25"}  # the API's and the catalog page's default
    return [
        Scenario("all, first page", [limit]),
        Scenario("kind", [{"kind": kind, **limit} for kind in kinds]),
        Scenario(
            "kind + lifecycle",
            [{"kind": k, "lifecycle": lc, **limit} for k in living for lc in lifecycles][:VARIANTS],
        ),
        Scenario("owner", [{"owner": owner, **limit} for owner in owners]),
        Scenario("tag (one, or two: any of)", [{"tag": t, **limit} for t in tag_values]),
        Scenario("q (free text)", [{"q": word, **limit} for word in _words(sample)]),
        Scenario(
            f"deep page (next_cursor, up to x{DEPTH})",
            [deep(limit), *(deep({"kind": kind, **limit}) for kind in kinds[:2])],
        ),
        Scenario(
            "sort owner desc",
            [{"sort": "owner", "order": "desc", **limit}]
            + [{"sort": "owner", "order": "desc", "kind": kind, **limit} for kind in kinds[:2]],
        ),
        Scenario("all, limit 200 (extra)", [{"limit": "200"}], in_goal=False),
    ]


def _words(items: list[dict[str, Any]]) -> list[str]:
    """Words people would search for: in some of the sample's texts, but not most of them."""
    seen: Counter[str] = Counter()
    for item in items:
        metadata = item["metadata"]
        text = " ".join(str(metadata.get(key, "")) for key in ("name", "title", "description"))
        seen.update(set(_WORD.findall(text.casefold())))
    fitting = [w for w, n in seen.most_common() if 2 <= n <= max(2, len(items) // 4)]
    return fitting[:VARIANTS] or [w for w, _ in seen.most_common(VARIANTS)] or ["a"]


# -- figures ----------------------------------------------------------------------


def _stats(scenario: Scenario) -> dict[str, Any]:
    times = sorted(scenario.times)
    return {
        "queries": len(scenario.queries),
        "requests": len(times),
        "p50_s": statistics.median(times),
        "p95_s": _percentile(times, 95),
        "max_s": times[-1],
        "first_max_s": max(scenario.first),
        "in_goal": scenario.in_goal,
        "bytes_median": int(statistics.median(scenario.sizes)),
        "total_median": int(statistics.median(scenario.totals)) if scenario.totals else None,
    }


def _percentile(ordered: Sequence[float], p: int) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[p - 1]


def _figures(
    runs: list[dict[str, Any]],
    requests: int,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    for run in runs:
        base = run["healthz"]["p95_s"]
        for stats in run["scenarios"].values():
            stats["p95_ratio"] = stats["p95_s"] / base
            stats["p50_ratio"] = stats["p50_s"] / run["healthz"]["p50_s"]
    judged = next((run for run in runs if run["entities"] == GOAL_ENTITIES), None)
    goal: dict[str, Any] = {"max_ratio": GOAL, "entities": GOAL_ENTITIES, "met": None}
    if judged is not None:
        name, worst = max(
            ((name, s["p95_ratio"]) for name, s in judged["scenarios"].items() if s["in_goal"]),
            key=lambda item: item[1],
        )
        goal |= {"met": worst <= GOAL, "worst": name, "worst_ratio": worst}
    return {
        "requests": requests,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "sizes": runs,
        "goal": goal,
    }


def _report(figures: dict[str, Any]) -> str:
    lines = [
        f"catalog list API (GET {API}) next to GET /healthz of the same server: "
        f"{figures['requests']:,} timed requests per row, one at a time, interleaved",
    ]
    for run in figures["sizes"]:
        lines += ["", *_size_table(run)]
    goal = figures["goal"]
    lines.append("")
    if goal["met"] is None:
        lines.append(
            f"goal: p95 at {GOAL_ENTITIES:,} entities within {GOAL:.0f}x the /healthz p95: "
            f"not judged ({GOAL_ENTITIES:,} is not among --sizes)"
        )
    else:
        verdict = "met" if goal["met"] else "NOT met"
        lines.append(
            f"goal: p95 at {GOAL_ENTITIES:,} entities within {GOAL:.0f}x the /healthz p95: "
            f"{verdict} (worst: {goal['worst']}, {goal['worst_ratio']:.2f}x)"
        )
    before = " ".join(f"{x:.2f}" for x in figures["load_average_before"])
    after = " ".join(f"{x:.2f}" for x in figures["load_average_after"])
    lines += [
        "* first: the slowest first request of a query in the row (index memos cold); "
        "rows marked (extra) are outside the goal",
        f"machine: {figures['cpus']} CPUs, load average {before} before, {after} after",
    ]
    return "\n".join(lines)


def _size_table(run: dict[str, Any]) -> list[str]:
    header: tuple[str, ...] = ("", "queries", "p50", "p95", "max", "first*")
    header += ("p95/healthz", "p50/healthz", "matches", "size")
    base = run["healthz"]
    rows = [header, _row("GET /healthz (baseline)", base)]
    rows += [_row(name, stats) for name, stats in run["scenarios"].items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        f"{run['entities']:,} entities in {run['files']:,} files: server answering after "
        f"{run['startup_s']:.1f} s; RSS {run['rss_after_load_bytes'] / MIB:.0f} MiB loaded, "
        f"{run['rss_end_bytes'] / MIB:.0f} MiB at the end (peak {run['rss_peak_bytes'] / MIB:.0f})",
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    slowest = run["slowest"]
    lines.append(
        f"slowest request: {_ms(slowest['s'])} ({slowest['row']}, request {slowest['request']:,} "
        "after start-up)"
    )
    return lines


def _row(name: str, stats: dict[str, Any]) -> tuple[str, ...]:
    total = stats["total_median"]
    return (
        name,
        str(stats["queries"]),
        _ms(stats["p50_s"]),
        _ms(stats["p95_s"]),
        _ms(stats["max_s"]),
        _ms(stats["first_max_s"]),
        f"{stats['p95_ratio']:.2f}x" if "p95_ratio" in stats else "",
        f"{stats['p50_ratio']:.2f}x" if "p50_ratio" in stats else "",
        f"{total:,}" if total is not None else "",
        _size(stats["bytes_median"]),
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _size(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} B"


def _wait_quiet(pid: int, limit_s: float = 300.0) -> float:
    """Seconds until the server's own start-up work (its first index sync, the first
    scorecard evaluation) is over: a second in which it used under 5% of a CPU.

    Measuring while it still works would time that work, not the searches.
    """
    started = time.perf_counter()
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    before = cpu_seconds()
    while time.perf_counter() - started < limit_s:
        time.sleep(1.0)
        now = cpu_seconds()
        if now - before < 0.05:
            break
        before = now
    return time.perf_counter() - started
